"""PynamoDB items of the rewards catalogue (issue 15). They never leave the DAL."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from chalicelib.dal.models import DataTableModel


class RewardItem(DataTableModel):
    """A catalogue entry (pk `T#{t}#REWARDS`, sk `REWARD#{id}`). `version` moves with the
    definition only: a redemption lowers `stock` (under `stock > 0`) and raises
    `redeemed_count` without touching it, and conditions on the version it read."""

    audit_resource = "reward"
    entity = UnicodeAttribute(default="reward")
    tenant_id = UnicodeAttribute()
    reward_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    points_cost = NumberAttribute()
    stock = NumberAttribute(null=True)
    per_customer_limit = NumberAttribute(null=True)
    valid_from = UTCDateTimeAttribute(null=True)
    valid_until = UTCDateTimeAttribute(null=True)
    tier_required = UnicodeAttribute(null=True)
    active = BooleanAttribute()
    redeemed_count = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class RewardCountItem(DataTableModel):
    """How often one customer redeemed one reward (sk `LOYALTY#REWARDCOUNT#{reward_id}` in
    the customer's partition): raised in the redemption's transaction under the condition
    that it stays within the reward's per-customer limit."""

    entity = UnicodeAttribute(default="reward_count")
    redeemed = NumberAttribute(default=0)


class RewardRedemptionItem(DataTableModel):
    """One redemption (sk `LOYALTY#REDEMPTION#{id}` in the customer's partition, ids
    time-sortable), written in the transaction that debits the points and the stock."""

    audit_resource = "reward_redemption"
    entity = UnicodeAttribute(default="reward_redemption")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    redemption_id = UnicodeAttribute()
    reward_id = UnicodeAttribute()
    reward_name = UnicodeAttribute()
    points = NumberAttribute()
    balance_after = NumberAttribute()
    redeemed_at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()


class RewardStockItem(DataTableModel):
    """The reward item as a redemption updates it: the same item as `RewardItem`, with its
    version a plain number, so a redemption conditions on it without raising it."""

    stock = NumberAttribute(null=True)
    redeemed_count = NumberAttribute(default=0)
    version = NumberAttribute(null=True)
