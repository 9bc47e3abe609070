"""Merging customer profiles (issue 16): the survivorship rule and how points combine and
split again on unmerge. Plain Python.

Survivorship (also in docs/data-model.md, "Customer merge (issue 16)"):

- profile fields (`external_id`, `name`, `email`, `phone`, `birthday`, `gender`,
  `address`): the survivor keeps every value it has; where its own is empty it takes the
  first non-empty value among the sources, in the order the request names them;
- tags: the union (the survivor's first, then the sources' in sorted order, up to
  MAX_TAGS);
- attributes: merged survivor-first (a key the survivor has keeps its value; the
  sources' other keys are added, earlier-named sources winning, up to MAX_ATTRIBUTES);
- consent per channel: the strictest wins. The stored consent is a boolean per channel
  with `false` for both "opted out" and "never asked", so a channel stays opted in only
  when every profile opted in;
- unique claims (email, phone, external id) the survivor takes from a source move to it;
  the source's other claims are released (and restored by unmerge).

Points: the survivor's account takes every source's lots (added per expiry date), the
lifetime and history counters and the monthly spend are summed, and the tier is derived
again from the combined standing with the tenant's tier rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from chalicelib.domain.customers import (
    MAX_ATTRIBUTES,
    MAX_TAGS,
    AttributeValue,
    Consent,
    Customer,
    UniqueField,
)
from chalicelib.domain.errors import UnmergeRefused
from chalicelib.domain.loyalty import PointsAccount, next_evaluation, standing, tier_for
from chalicelib.domain.tenant_config import LoyaltyConfig, TierBasis

SURVIVING_FIELDS: Final = (
    "external_id",
    "name",
    "email",
    "phone",
    "birthday",
    "gender",
    "address",
)
UNMERGE_WINDOW: Final = timedelta(days=30)
CONTINUATION_BUDGET: Final = timedelta(seconds=120)
"""How long one continuation moves items (the merge queue's visibility timeout is 300 s)."""
MAX_SOURCES: Final = 10


def strictest_consent(consents: Sequence[Consent]) -> Consent:
    """Per channel, opted out beats opted in: a channel is on only if it is on everywhere."""
    names = [item.name for item in fields(Consent)]
    return Consent(**{name: all(getattr(c, name) for c in consents) for name in names})


def _united_tags(survivor: Customer, sources: Sequence[Customer]) -> frozenset[str]:
    tags = list(sorted(survivor.tags))
    for tag in sorted(set().union(*(source.tags for source in sources)) - survivor.tags):
        if len(tags) >= MAX_TAGS:
            break
        tags.append(tag)
    return frozenset(tags)


def _merged_attributes(
    survivor: Customer, sources: Sequence[Customer]
) -> dict[str, AttributeValue]:
    attributes = dict(survivor.attributes)
    for source in sources:
        for key, value in source.attributes.items():
            if key not in attributes and len(attributes) < MAX_ATTRIBUTES:
                attributes[key] = value
    return attributes


def surviving_profile(survivor: Customer, sources: Sequence[Customer], now: datetime) -> Customer:
    """The survivor after the merge (same id and version; the store bumps the version)."""
    taken: dict[str, object] = {}
    for name in SURVIVING_FIELDS:
        if getattr(survivor, name) is not None:
            continue
        for source in sources:
            value = getattr(source, name)
            if value is not None:
                taken[name] = value
                break
    merged = replace(survivor, **taken)  # type: ignore[arg-type]
    return replace(
        merged,
        tags=_united_tags(survivor, sources),
        attributes=_merged_attributes(survivor, sources),
        consent=strictest_consent([survivor.consent, *(s.consent for s in sources)]),
        updated_at=now,
    )


def claims_taken(survivor: Customer, merged: Customer) -> dict[UniqueField, str]:
    """The unique values the merged survivor holds that it did not hold before."""
    before = survivor.unique_values()
    return {f: v for f, v in merged.unique_values().items() if before.get(f) != v}


def _sum_counts(values: Sequence[Mapping[date, int]]) -> dict[date, int]:
    total: dict[date, int] = {}
    for lots in values:
        for expiry, points in lots.items():
            if points:
                total[expiry] = total.get(expiry, 0) + points
    return total


def _sum_spend(values: Sequence[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for spend in values:
        for month, amount in spend.items():
            total[month] = total.get(month, Decimal(0)) + amount
    return total


def _with_tier(account: PointsAccount, config: LoyaltyConfig, today: date) -> PointsAccount:
    tier = tier_for(config, standing(account, config, today)).name
    evaluation = (
        next_evaluation(account, today)
        if config.tier_basis is TierBasis.ROLLING_12_MONTH_SPEND
        else account.tier_evaluation
    )
    return replace(account, tier=tier, tier_evaluation=evaluation)


def merged_account(
    survivor: PointsAccount,
    sources: Sequence[PointsAccount],
    config: LoyaltyConfig,
    today: date,
) -> PointsAccount:
    """The survivor's account holding every source's points, lots and history counters."""
    accounts = [survivor, *sources]
    combined = replace(
        survivor,
        lots=_sum_counts([a.lots for a in accounts]),
        lifetime_earned=sum(a.lifetime_earned for a in accounts),
        redeemed=sum(a.redeemed for a in accounts),
        expired=sum(a.expired for a in accounts),
        reversed=sum(a.reversed for a in accounts),
        deducted=sum(a.deducted for a in accounts),
        clawback_pending=sum(a.clawback_pending for a in accounts),
        spend_by_month=_sum_spend([a.spend_by_month for a in accounts]),
    )
    return _with_tier(combined, config, today)


@dataclass(frozen=True)
class AccountSplit:
    """An unmerge's result: the survivor's account without the source's points, and the
    source's account holding exactly the points taken back."""

    survivor: PointsAccount
    source: PointsAccount


def split_account(
    current: PointsAccount,
    brought: PointsAccount,
    config: LoyaltyConfig,
    today: date,
) -> AccountSplit:
    """Take back from the survivor's `current` account the points the source `brought`.

    Each brought lot is taken from the survivor's lot of the same expiry as far as it
    holds; what that lot no longer holds (spent or expired since) is taken from the
    survivor's other lots, latest expiry first. The source gets the points in the lots
    they were taken from, so the two balances add up to the survivor's balance before the
    unmerge. The survivor's balance never goes negative: when it holds fewer points than
    the source brought, the unmerge is refused (UnmergeRefused).
    """
    wanted = brought.balance
    if wanted > current.balance:
        raise UnmergeRefused(
            f"the source brought {wanted} points but the survivor holds only "
            f"{current.balance} now (spent or expired since the merge); "
            "adjust the survivor's points first"
        )
    remaining = {expiry: points for expiry, points in current.lots.items() if points > 0}
    taken: dict[date, int] = {}

    def take(expiry: date, points: int) -> int:
        moved = min(points, remaining.get(expiry, 0))
        if moved:
            remaining[expiry] -= moved
            taken[expiry] = taken.get(expiry, 0) + moved
        return moved

    shortfall = 0
    for expiry, points in sorted(brought.lots.items()):
        if points > 0:
            shortfall += points - take(expiry, points)
    for expiry in sorted(remaining, reverse=True):
        if shortfall == 0:
            break
        shortfall -= take(expiry, shortfall)
    survivor_spend = dict(current.spend_by_month)
    for month, amount in brought.spend_by_month.items():
        survivor_spend[month] = survivor_spend.get(month, Decimal(0)) - amount

    def minus(name: str) -> int:
        return max(0, getattr(current, name) - getattr(brought, name))

    survivor = replace(
        current,
        lots={expiry: points for expiry, points in remaining.items() if points},
        lifetime_earned=minus("lifetime_earned"),
        redeemed=minus("redeemed"),
        expired=minus("expired"),
        reversed=minus("reversed"),
        deducted=minus("deducted"),
        clawback_pending=minus("clawback_pending"),
        spend_by_month={m: a for m, a in survivor_spend.items() if a},
    )
    source = replace(brought, lots=taken)
    return AccountSplit(
        survivor=_with_tier(survivor, config, today), source=_with_tier(source, config, today)
    )


def within_unmerge_window(merged_at: datetime, now: datetime) -> bool:
    return now - merged_at <= UNMERGE_WINDOW


class MergeState(StrEnum):
    MOVING = "moving"
    DONE = "done"


@dataclass(frozen=True)
class MergeRecord:
    """A merge: written before anything moves, advanced by each step, `done` at the end."""

    id: str
    survivor_id: str
    source_ids: tuple[str, ...]
    state: MergeState
    started_at: datetime
    started_by: str
    steps: int = 0
    items_moved: int = 0
    finished_at: datetime | None = None


@dataclass(frozen=True)
class MergedInto:
    """What a merged source's partition says about it."""

    customer_id: str
    merged_into: str
    merge_id: str
    merged_at: datetime
    account_moved: bool
