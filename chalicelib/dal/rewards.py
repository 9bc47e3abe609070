"""The rewards catalogue and customers' reward redemptions. See docs/data-model.md
("Rewards catalogue")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import page_of
from chalicelib.dal.loyalty import ConditionedPart
from chalicelib.dal.rewards_models import (
    RewardCountItem,
    RewardItem,
    RewardRedemptionItem,
    RewardStockItem,
)
from chalicelib.dal.transactions import LabelledTransaction
from chalicelib.domain.errors import ConcurrentModification, PreconditionFailed
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.rewards import Reward, RewardRedemption
from chalicelib.domain.tenancy import TenantId

REWARD_PART = "reward"
STOCK_LABEL = f"{REWARD_PART}:stock"
LIMIT_LABEL = f"{REWARD_PART}:limit"
_OPTIONAL = (
    "description",
    "stock",
    "per_customer_limit",
    "valid_from",
    "valid_until",
    "tier_required",
)
_REQUIRED = ("name", "points_cost", "active")


def _reward_item(tenant: TenantId, reward: Reward) -> RewardItem:
    return RewardItem(
        pk=keys.rewards_pk(tenant),
        sk=keys.reward_sk(reward.id),
        tenant_id=tenant,
        reward_id=reward.id,
        name=reward.name,
        description=reward.description,
        points_cost=reward.points_cost,
        stock=reward.stock,
        per_customer_limit=reward.per_customer_limit,
        valid_from=reward.valid_from,
        valid_until=reward.valid_until,
        tier_required=reward.tier_required,
        active=reward.active,
        redeemed_count=reward.redeemed_count,
        created_at=reward.created_at,
        updated_at=reward.updated_at,
    )


def _to_reward(item: RewardItem) -> Reward:
    return Reward(
        id=item.reward_id,
        name=item.name,
        description=item.description,
        points_cost=int(item.points_cost),
        stock=None if item.stock is None else int(item.stock),
        per_customer_limit=(
            None if item.per_customer_limit is None else int(item.per_customer_limit)
        ),
        valid_from=item.valid_from,
        valid_until=item.valid_until,
        tier_required=item.tier_required,
        active=bool(item.active),
        redeemed_count=int(item.redeemed_count or 0),
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
    )


def redemption_from_item(item: RewardRedemptionItem) -> RewardRedemption:
    return RewardRedemption(
        id=item.redemption_id,
        customer_id=item.customer_id,
        reward_id=item.reward_id,
        reward_name=item.reward_name,
        points=int(item.points),
        balance_after=int(item.balance_after),
        redeemed_at=item.redeemed_at,
        actor=item.actor,
    )


def insert_reward(tenant: TenantId, reward: Reward) -> Reward:
    """One PutItem, on condition the id is new."""
    bound_settings()
    item = _reward_item(tenant, reward)
    try:
        item.save(condition=RewardItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise ConcurrentModification(f"reward {reward.id} already exists") from error
        raise
    return _to_reward(item)


def get_reward(tenant: TenantId, reward_id: str) -> Reward | None:
    """One consistent GetItem."""
    bound_settings()
    try:
        item = RewardItem.get(
            keys.rewards_pk(tenant), keys.reward_sk(reward_id), consistent_read=True
        )
    except RewardItem.DoesNotExist:
        return None
    return _to_reward(item)


def list_rewards(tenant: TenantId, page: PageRequest) -> Page[Reward]:
    """The catalogue in id order (oldest first): one Query per page."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        "rewards",
        page,
        lambda start, limit: RewardItem.query(
            keys.rewards_pk(tenant),
            RewardItem.sk.startswith(keys.REWARD_PREFIX),
            consistent_read=True,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
    )
    return Page([_to_reward(item) for item in items], cursor)


def update_reward(tenant: TenantId, changed: Reward, fields: set[str], version: int) -> Reward:
    """One UpdateItem of the fields named, conditioned on the definition's `version` (and
    raising it). `stock` sent is set as given: what remains from now on."""
    bound_settings()
    item = RewardItem(keys.rewards_pk(tenant), keys.reward_sk(changed.id), version=version)
    values: dict[str, Any] = {name: getattr(changed, name) for name in fields}
    actions: list[Action] = [RewardItem.updated_at.set(changed.updated_at)]
    for name, value in values.items():
        attribute = getattr(RewardItem, name)
        if value is None and name in _OPTIONAL:
            actions.append(attribute.remove())
        else:
            actions.append(attribute.set(value))
    try:
        item.update(actions)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise PreconditionFailed(f"reward {changed.id} changed since it was read") from error
        raise
    return _to_reward(item)


def redemption_part(
    tenant: TenantId,
    reward: Reward,
    redemption: RewardRedemption,
    refused: Callable[[set[str]], Exception],
) -> ConditionedPart:
    """What a redemption adds to the points transaction: the reward (conditioned on the
    definition read and, with a stock, `stock > 0`; stock lowered, count raised), the
    customer's count of it (with a limit, conditioned to stay within it) and the
    redemption record."""

    def add(transaction: LabelledTransaction) -> None:
        item = RewardStockItem(keys.rewards_pk(tenant), keys.reward_sk(reward.id))
        condition = RewardStockItem.version == reward.version
        actions: list[Action] = [RewardStockItem.redeemed_count.add(1)]
        if reward.stock is not None:
            condition &= RewardStockItem.stock > 0
            actions.append(RewardStockItem.stock.add(-1))
        transaction.update(STOCK_LABEL, item, actions, condition=condition)
        if reward.per_customer_limit is not None:
            count = RewardCountItem(
                pk=keys.customer_pk(tenant, redemption.customer_id),
                sk=keys.reward_count_sk(reward.id),
            )
            within = RewardCountItem.redeemed.does_not_exist() | (
                RewardCountItem.redeemed < reward.per_customer_limit
            )
            transaction.update(
                LIMIT_LABEL,
                count,
                [RewardCountItem.entity.set("reward_count"), RewardCountItem.redeemed.add(1)],
                condition=within,
            )
        record = RewardRedemptionItem(
            pk=keys.customer_pk(tenant, redemption.customer_id),
            sk=keys.reward_redemption_sk(redemption.id),
            tenant_id=tenant,
            customer_id=redemption.customer_id,
            redemption_id=redemption.id,
            reward_id=reward.id,
            reward_name=reward.name,
            points=redemption.points,
            balance_after=redemption.balance_after,
            redeemed_at=redemption.redeemed_at,
            actor=redemption.actor,
        )
        transaction.put(
            f"{REWARD_PART}:record", record, condition=RewardRedemptionItem.pk.does_not_exist()
        )

    return ConditionedPart(REWARD_PART, add, refused)


def customer_redemptions_of(tenant: TenantId, customer_id: str, reward_id: str) -> int:
    """How often the customer redeemed the reward (its counter; 0 without one)."""
    bound_settings()
    try:
        item = RewardCountItem.get(
            keys.customer_pk(tenant, customer_id),
            keys.reward_count_sk(reward_id),
            consistent_read=True,
        )
    except RewardCountItem.DoesNotExist:
        return 0
    return int(item.redeemed or 0)


def get_redemption(
    tenant: TenantId, customer_id: str, redemption_id: str
) -> RewardRedemption | None:
    bound_settings()
    try:
        item = RewardRedemptionItem.get(
            keys.customer_pk(tenant, customer_id),
            keys.reward_redemption_sk(redemption_id),
            consistent_read=True,
        )
    except RewardRedemptionItem.DoesNotExist:
        return None
    return redemption_from_item(item)


def list_redemptions(
    tenant: TenantId, customer_id: str, page: PageRequest
) -> Page[RewardRedemption]:
    """Newest first: one Query on the customer's `LOYALTY#REDEMPTION#` items per page."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        f"reward-redemptions:{customer_id}",
        page,
        lambda start, limit: RewardRedemptionItem.query(
            keys.customer_pk(tenant, customer_id),
            RewardRedemptionItem.sk.startswith(keys.REWARD_REDEMPTION_PREFIX),
            consistent_read=True,
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
    )
    return Page([redemption_from_item(item) for item in items], cursor)
