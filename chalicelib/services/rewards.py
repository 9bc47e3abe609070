"""The rewards catalogue: define rewards, list them, and redeem them for points.

A redemption is one points transaction (`loyalty.commit_account_change`) that also lowers
the reward's stock under `stock > 0`, raises the customer's count of it under its limit
and records the redemption: the last unit goes to exactly one of any number of parallel
redemptions, and the points of the others are not touched. The reward's definition is
kept for the auth cache's time (≤ 5 s) and the transaction conditions on its version, so
a warm redemption reads only the points account: two round trips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.caching import ExpiringLruCache
from chalicelib.dal import rewards as repository
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import (
    ConcurrentModification,
    NotFound,
    OutOfStock,
    PreconditionFailed,
    RedemptionLimitReached,
)
from chalicelib.domain.ids import is_customer_id, is_reward_id, new_reward_id
from chalicelib.domain.ids import new_reward_redemption_id as new_redemption_id
from chalicelib.domain.loyalty import AccountChange, EntryType
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.rewards import (
    RedemptionReceipt,
    Reward,
    RewardChanges,
    RewardRedemption,
    RewardRedemptionRecord,
    apply_changes,
    check_tier_known,
    check_window,
)
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tenant_config import LoyaltyConfig
from chalicelib.services import customers, loyalty
from chalicelib.services.idempotency import Receipt, idempotent_request, run_once
from chalicelib.settings import get_settings

REDEEM_ATTEMPTS = 5
_definitions: ExpiringLruCache[Reward] = ExpiringLruCache()


@dataclass(frozen=True)
class RewardDraft:
    name: str
    description: str | None
    points_cost: int
    stock: int | None
    per_customer_limit: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    tier_required: str | None
    active: bool


def _not_found(reward_id: str) -> NotFound:
    return NotFound(f"reward {reward_id} does not exist")


def create_reward(tenant: TenantId, draft: RewardDraft, now: datetime | None = None) -> Reward:
    moment = now or utc_now()
    check_window(draft.valid_from, draft.valid_until)
    check_tier_known(draft.tier_required, loyalty.loyalty_config(tenant))
    reward = Reward(
        id=new_reward_id(),
        name=draft.name,
        description=draft.description,
        points_cost=draft.points_cost,
        stock=draft.stock,
        per_customer_limit=draft.per_customer_limit,
        valid_from=draft.valid_from,
        valid_until=draft.valid_until,
        tier_required=draft.tier_required,
        active=draft.active,
        redeemed_count=0,
        created_at=moment,
        updated_at=moment,
    )
    return repository.insert_reward(tenant, reward)


def get_reward(tenant: TenantId, reward_id: str) -> Reward:
    reward = repository.get_reward(tenant, reward_id) if is_reward_id(reward_id) else None
    if reward is None:
        raise _not_found(reward_id)
    return reward


def list_rewards(tenant: TenantId, page: PageRequest) -> Page[Reward]:
    return repository.list_rewards(tenant, page)


def update_reward(
    tenant: TenantId,
    reward_id: str,
    changes: RewardChanges,
    if_match: int | None,
    now: datetime | None = None,
) -> Reward:
    """Replace the fields sent; with `if_match`, only if the reward is still that version
    (412 otherwise). A `stock` sent is what remains from now on."""
    reward = get_reward(tenant, reward_id)
    if if_match is not None and if_match != reward.version:
        raise PreconditionFailed(f"reward {reward_id} is at another version")
    sent = changes.sent()
    if not sent:
        return reward
    changed = apply_changes(reward, changes, now or utc_now())
    if "tier_required" in sent:
        check_tier_known(changed.tier_required, loyalty.loyalty_config(tenant))
    updated = repository.update_reward(tenant, changed, set(sent), reward.version)
    _definitions.put((tenant, reward_id), updated, 0)
    return updated


def _definition(tenant: TenantId, reward_id: str, fresh: bool) -> Reward:
    """The reward, from the cache unless `fresh` (a redemption conditions on its version,
    so a definition changed since it was cached fails the transaction and is read again)."""
    key = (tenant, reward_id)
    cached = None if fresh else _definitions.get(key)
    if cached is not None:
        return cached
    reward = get_reward(tenant, reward_id)
    _definitions.put(key, reward, get_settings().auth_cache_seconds)
    return reward


class _DefinitionChanged(Exception):
    """The reward's definition changed since it was read: read it again and retry."""


def _refusal(tenant: TenantId, reward: Reward) -> Callable[[set[str]], Exception]:
    def refused(labels: set[str]) -> Exception:
        if repository.LIMIT_LABEL in labels:
            return RedemptionLimitReached(
                f"the customer has redeemed reward {reward.id} "
                f"{reward.per_customer_limit} times, its limit"
            )
        stored = get_reward(tenant, reward.id)
        if stored.version != reward.version:
            return _DefinitionChanged()
        if stored.stock is not None and stored.stock <= 0:
            return OutOfStock(f"reward {reward.id} is out of stock")
        return ConcurrentModification(f"reward {reward.id} is being changed; retry")

    return refused


def _stage_redemption(
    tenant: TenantId,
    customer_id: str,
    reward: Reward,
    config: LoyaltyConfig,
    actor: str,
    now: datetime,
    made: list[RewardRedemption],
) -> Callable[[AccountChange], loyalty.StagedChange]:
    redemption_id = new_redemption_id()

    def stage(change: AccountChange) -> loyalty.StagedChange:
        reward.check_tier(change.account.tier, config)
        change.redeem(reward.points_cost, f"reward: {reward.name}", reward.id, EntryType.REWARD)
        redemption = RewardRedemption(
            id=redemption_id,
            customer_id=customer_id,
            reward_id=reward.id,
            reward_name=reward.name,
            points=reward.points_cost,
            balance_after=change.available(),
            redeemed_at=now,
            actor=actor,
        )
        made[:] = [redemption]
        write = loyalty.account_write(customer_id, change)
        refused = _refusal(tenant, reward)
        write.parts = [repository.redemption_part(tenant, reward, redemption, refused)]
        return loyalty.StagedChange(write, None, change)

    return stage


def _redeem(
    tenant: TenantId, customer_id: str, reward_id: str, actor: str, now: datetime
) -> RewardRedemptionRecord:
    config = loyalty.loyalty_config(tenant)
    made: list[RewardRedemption] = []
    for attempt in range(REDEEM_ATTEMPTS):
        reward = _definition(tenant, reward_id, fresh=attempt > 0)
        reward.check_redeemable(now)
        stage = _stage_redemption(tenant, customer_id, reward, config, actor, now, made)
        try:
            loyalty.commit_account_change(tenant, customer_id, stage, config, actor, now)
        except _DefinitionChanged:
            continue
        return RewardRedemptionRecord.of(made[0])
    raise ConcurrentModification(f"reward {reward_id} keeps changing; retry")


def redeem_reward(
    tenant: TenantId,
    customer_id: str,
    reward_id: str,
    actor: str,
    idempotency_key: str | None,
    now: datetime | None = None,
) -> RewardRedemptionRecord:
    """Debit the reward's points and one unit of its stock in one transaction. 409
    `out-of-stock`, `redemption-limit-reached`, `reward-unavailable` (inactive, outside
    its validity, tier too low) or `insufficient-points`; nothing is written then."""
    if not is_customer_id(customer_id):
        raise NotFound(f"customer {customer_id} does not exist")
    moment = now or utc_now()
    request = idempotent_request(tenant, "rewards:redeem", idempotency_key, customer_id, reward_id)

    def replay(stored: RedemptionReceipt) -> RewardRedemptionRecord:
        found = repository.get_redemption(tenant, stored.customer_id, stored.redemption_id)
        if found is None:
            raise NotFound(f"redemption {stored.redemption_id} does not exist")
        return RewardRedemptionRecord.of(found)

    receipt = Receipt(
        RedemptionReceipt,
        lambda record: RedemptionReceipt(customer_id=record.customer_id, redemption_id=record.id),
        replay,
    )
    return run_once(
        request, receipt, lambda: _redeem(tenant, customer_id, reward_id, actor, moment)
    )


def list_redemptions(
    tenant: TenantId, customer_id: str, page: PageRequest
) -> Page[RewardRedemptionRecord]:
    customers.get_customer(tenant, customer_id)
    found = repository.list_redemptions(tenant, customer_id, page)
    return Page([RewardRedemptionRecord.of(r) for r in found.items], found.next_cursor)


def rewards_for_customer(
    tenant: TenantId, customer_id: str, page: PageRequest, now: datetime | None = None
) -> Page[Reward]:
    """The page of the catalogue the customer could redeem now (active, valid, in stock,
    tier reached), so a page may hold fewer items than asked."""
    moment = now or utc_now()
    tier = loyalty.points_summary(tenant, customer_id, moment).tier
    config = loyalty.loyalty_config(tenant)
    found = repository.list_rewards(tenant, page)
    return Page(
        [reward for reward in found.items if reward.is_listed_for(tier, config, moment)],
        found.next_cursor,
    )
