"""Loyalty points: lots, the ledger, expiry, refunds, clawback and tiers. Plain Python.

A customer's points live in lots keyed by their expiry date (one lot per day, so a
customer never has more live lots than the validity has days). A lot counts in the
available balance while `today < expiry`. Every change is an `AccountChange`: it starts
from the stored `PointsAccount`, records what happened as ledger entries, and ends in the
account to store. Entries carry signed points, so for every customer the ledger sums to
the balance, and credits equal the balance plus what expired and what was spent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

from chalicelib.domain.errors import InsufficientPoints
from chalicelib.domain.tenant_config import LoyaltyConfig, Rounding, TierBasis, TierRule

SYSTEM_ACTOR = "system"
EXPIRING_WINDOW_DAYS = 30
ROLLING_MONTHS = 12

_ROUNDING = {
    Rounding.DOWN: ROUND_FLOOR,
    Rounding.UP: ROUND_CEILING,
    Rounding.NEAREST: ROUND_HALF_UP,
}


class EntryType(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    ADJUST = "adjust"
    EXPIRE = "expire"
    REVERSE = "reverse"
    TIER_CHANGE = "tier_change"
    REWARD = "reward"


@dataclass(frozen=True)
class LedgerEntry:
    """One immutable line of a customer's ledger. `points` is signed (0 for a tier change)."""

    type: EntryType
    points: int
    balance_after: int
    at: datetime
    actor: str
    interaction_id: str | None = None
    reference: str | None = None
    reason: str | None = None
    tier: str | None = None
    sequence: str = ""


@dataclass(frozen=True)
class PointsAccount:
    """The stored state of a customer's points. `version` guards every write (0: never saved)."""

    lots: Mapping[date, int] = field(default_factory=dict)
    lifetime_earned: int = 0
    redeemed: int = 0
    expired: int = 0
    reversed: int = 0
    deducted: int = 0
    clawback_pending: int = 0
    tier: str = ""
    spend_by_month: Mapping[str, Decimal] = field(default_factory=dict)
    tier_evaluation: date | None = None
    version: int = 0
    # Set when the customer was erased: the account keeps its books (the daily job still
    # expires its lots) but no request reads or moves its points any more.
    closed_at: datetime | None = None

    @property
    def balance(self) -> int:
        """Points in the stored lots, including lots past due that no write has expired yet."""
        return sum(self.lots.values())

    def available(self, today: date) -> int:
        return sum(points for expiry, points in self.lots.items() if today < expiry)

    def expiring(self, today: date, days: int = EXPIRING_WINDOW_DAYS) -> list[tuple[date, int]]:
        horizon = today + timedelta(days=days)
        return sorted(
            (expiry, points)
            for expiry, points in self.lots.items()
            if today < expiry <= horizon and points > 0
        )


def round_points(value: Decimal, rounding: Rounding) -> int:
    return int(value.to_integral_value(rounding=_ROUNDING[rounding]))


def tier_named(config: LoyaltyConfig, name: str) -> TierRule:
    for tier in config.tiers:
        if tier.name == name:
            return tier
    return config.tiers[0]


def purchase_points(amount: Decimal, config: LoyaltyConfig, tier: str) -> int:
    """Rate * amount * the tier's multiplier, rounded as configured (default: down)."""
    multiplier = tier_named(config, tier).multiplier
    raw = amount * config.points_per_currency_unit * multiplier
    return max(0, round_points(raw, config.rounding))


def fixed_points(config: LoyaltyConfig, interaction_type: str) -> int:
    return config.points_by_interaction_type.get(interaction_type, 0)


def refund_reversal(
    order_points: int, order_amount: Decimal, refunded_before: Decimal, refund: Decimal
) -> int:
    """Points to take back for `refund`: proportional and cumulative, so that refunds adding
    up to the whole order take back exactly the order's points, never more."""
    if order_amount <= 0:
        return 0
    refunded_after = min(order_amount, refunded_before + refund)
    due_after = int((order_points * refunded_after / order_amount).to_integral_value(ROUND_FLOOR))
    due_before = int((order_points * refunded_before / order_amount).to_integral_value(ROUND_FLOOR))
    return max(0, due_after - due_before)


def tier_for(config: LoyaltyConfig, standing: Decimal) -> TierRule:
    """The highest tier whose threshold `standing` reaches."""
    reached = config.tiers[0]
    for tier in config.tiers:
        if standing >= tier.threshold:
            reached = tier
    return reached


def tier_rank(config: LoyaltyConfig, name: str) -> int:
    names = [tier.name for tier in config.tiers]
    return names.index(name) if name in names else 0


def next_tier(config: LoyaltyConfig, standing: Decimal) -> tuple[TierRule, Decimal] | None:
    """The next tier above `standing` and how much more it takes, None at the top."""
    for tier in config.tiers:
        if tier.threshold > standing:
            return tier, tier.threshold - standing
    return None


def month_key(moment: date) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def window_months(today: date) -> list[str]:
    """The months of the rolling window ending with today's month (12 by default)."""
    first = today.replace(day=1)
    return [month_key(_add_months(first, -offset)) for offset in range(ROLLING_MONTHS)]


def rolling_spend(account: PointsAccount, today: date) -> Decimal:
    months = set(window_months(today))
    total = sum(
        (amount for month, amount in account.spend_by_month.items() if month in months),
        Decimal(0),
    )
    return max(total, Decimal(0))


def standing(account: PointsAccount, config: LoyaltyConfig, today: date) -> Decimal:
    """What tiers are measured on: lifetime points or the rolling 12-month spend."""
    if config.tier_basis is TierBasis.ROLLING_12_MONTH_SPEND:
        return rolling_spend(account, today)
    return Decimal(account.lifetime_earned)


def next_evaluation(account: PointsAccount, today: date) -> date | None:
    """The day the oldest spend still in the window drops out of it (rolling-spend tiers):
    the first day of the month twelve months after it. None when nothing is in the window."""
    window = set(window_months(today))
    live = sorted(m for m, amount in account.spend_by_month.items() if amount and m in window)
    if not live:
        return None
    year, month = (int(part) for part in live[0].split("-"))
    return _add_months(date(year, month, 1), ROLLING_MONTHS)


class AccountChange:
    """Applies operations to an account, one ledger entry each; `result()` is what to store."""

    def __init__(
        self, account: PointsAccount, config: LoyaltyConfig, now: datetime, actor: str
    ) -> None:
        self.before = account
        self.config = config
        self.now = now
        self.today = now.date()
        self.actor = actor
        self.entries: list[LedgerEntry] = []
        self.lots: dict[date, int] = {k: v for k, v in account.lots.items() if v > 0}
        self.touched_lots: set[date] = set()
        self.expired_lots: set[date] = set()
        self._account = replace(account, tier=account.tier or config.tiers[0].name)

    @property
    def account(self) -> PointsAccount:
        return replace(self._account, lots=dict(self.lots))

    def available(self) -> int:
        return sum(points for expiry, points in self.lots.items() if self.today < expiry)

    def _entry(self, kind: EntryType, points: int, **details: str | None) -> None:
        self.entries.append(
            LedgerEntry(
                type=kind,
                points=points,
                balance_after=self.available(),
                at=self.now,
                actor=self.actor,
                **details,  # type: ignore[arg-type]
            )
        )

    def _update(self, **changes: object) -> None:
        self._account = replace(self._account, **changes)  # type: ignore[arg-type]

    def expire_due(self) -> int:
        """Move every lot whose expiry date has come into one `expire` entry."""
        due = {expiry: pts for expiry, pts in self.lots.items() if expiry <= self.today}
        for expiry in due:
            del self.lots[expiry]
        self.expired_lots |= set(due)
        points = sum(due.values())
        if points:
            self._update(expired=self._account.expired + points)
            self._entry(EntryType.EXPIRE, -points, reason="validity ended")
        return points

    def _take(self, points: int, latest_first: bool = False) -> None:
        """Consume live lots, those expiring first unless `latest_first`."""
        remaining = points
        live = sorted((e for e in self.lots if self.today < e), reverse=latest_first)
        for expiry in live:
            taken = min(remaining, self.lots[expiry])
            self.lots[expiry] -= taken
            remaining -= taken
            if not self.lots[expiry]:
                del self.lots[expiry]
            if not remaining:
                return
        if remaining:
            raise InsufficientPoints(f"{points} points asked, {self.available()} available")

    def _add_lot(self, points: int) -> None:
        expiry = self.today + timedelta(days=self.config.validity_days)
        self.lots[expiry] = self.lots.get(expiry, 0) + points
        self.touched_lots.add(expiry)

    @property
    def opened_lots(self) -> set[date]:
        """The lots this change credited that the account did not hold: only these need an
        expiry marker (a lot the account holds got its marker when it was opened, and keeps
        it until 30 days after it expires)."""
        return {expiry for expiry in self.touched_lots if self.before.lots.get(expiry, 0) <= 0}

    def earn(
        self,
        points: int,
        interaction_id: str | None,
        reference: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Credit a new lot; a pending clawback is settled from it first."""
        if points <= 0:
            return
        self._add_lot(points)
        self._update(lifetime_earned=self._account.lifetime_earned + points)
        self._entry(
            EntryType.EARN,
            points,
            interaction_id=interaction_id,
            reference=reference,
            reason=reason,
        )
        settled = min(self._account.clawback_pending, points)
        if settled:
            self._take(settled, latest_first=True)
            self._update(
                clawback_pending=self._account.clawback_pending - settled,
                reversed=self._account.reversed + settled,
                lifetime_earned=self._account.lifetime_earned - settled,
            )
            self._entry(
                EntryType.REVERSE,
                -settled,
                interaction_id=interaction_id,
                reason="clawback settled from new earnings",
            )

    def reverse(self, points: int, interaction_id: str | None, reference: str | None) -> int:
        """Take back `points` of a refunded order: what is available now, the rest becomes
        `clawback_pending`. Answers the points taken now."""
        if points <= 0:
            return 0
        taken = min(points, self.available())
        if taken:
            self._take(taken, latest_first=True)
            self._entry(
                EntryType.REVERSE, -taken, interaction_id=interaction_id, reference=reference
            )
        self._update(
            reversed=self._account.reversed + taken,
            clawback_pending=self._account.clawback_pending + points - taken,
            lifetime_earned=max(0, self._account.lifetime_earned - taken),
        )
        return taken

    def redeem(
        self,
        points: int,
        reason: str,
        reference: str | None,
        kind: EntryType = EntryType.REDEEM,
    ) -> None:
        """Spend points (a `redeem` entry, or `reward` for a catalogue reward)."""
        available = self.available()
        if points > available:
            raise InsufficientPoints(f"{points} points asked, {available} available")
        self._take(points)
        self._update(redeemed=self._account.redeemed + points)
        self._entry(kind, -points, reason=reason, reference=reference)

    def adjust(self, points: int, reason: str, reference: str | None) -> None:
        """A manual correction: positive adds a lot, negative deducts like a redemption."""
        if points > 0:
            self._add_lot(points)
        elif points < 0:
            available = self.available()
            if -points > available:
                raise InsufficientPoints(f"{-points} points asked, {available} available")
            self._take(-points)
            self._update(deducted=self._account.deducted - points)
        self._entry(EntryType.ADJUST, points, reason=reason, reference=reference)

    def record_spend(self, amount: Decimal, occurred: date) -> None:
        """Count a purchase (or, negative, a refund) in its month, for rolling-spend tiers."""
        month = month_key(occurred)
        spend = dict(self._account.spend_by_month)
        spend[month] = spend.get(month, Decimal(0)) + amount
        window = set(window_months(self.today))
        self._update(spend_by_month={m: a for m, a in spend.items() if m in window})

    def upgrade_tier(self) -> None:
        """Move up when the standing reaches a higher tier (in the same write)."""
        reached = tier_for(self.config, standing(self._account, self.config, self.today))
        current = tier_rank(self.config, self._account.tier)
        if tier_rank(self.config, reached.name) > current:
            self._set_tier(reached.name, "threshold reached")
        self._schedule_evaluation()

    def reevaluate_tier(self) -> None:
        """The daily evaluation of rolling-spend tiers: up or down to what the window earns."""
        reached = tier_for(self.config, standing(self._account, self.config, self.today))
        if reached.name != self._account.tier:
            self._set_tier(reached.name, "12-month spend re-evaluated")
        self._schedule_evaluation()

    def _set_tier(self, name: str, reason: str) -> None:
        self._update(tier=name)
        self._entry(EntryType.TIER_CHANGE, 0, tier=name, reason=reason)

    def _schedule_evaluation(self) -> None:
        if self.config.tier_basis is not TierBasis.ROLLING_12_MONTH_SPEND:
            self._update(tier_evaluation=None)
            return
        due = next_evaluation(self._account, self.today)
        if due is None and tier_rank(self.config, self._account.tier) > 0:
            due = self.today + timedelta(days=1)
        self._update(tier_evaluation=due)

    @property
    def changed(self) -> bool:
        return bool(self.entries) or self.account != self.before

    def result(self) -> PointsAccount:
        return self.account
