"""PynamoDB items of the rewards catalogue, offers and coupons (issue 15). They never leave
the DAL."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.dal.models import DataTableModel
from chalicelib.dal.models.base import _Gsi3


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


class MultiplierOffersByEnd(_Gsi3["OfferItem"]):
    pass


class OfferItem(DataTableModel):
    """An offer (pk `T#{t}#OFFERS`, sk `OFFER#{id}`); decimals are kept as text. A
    multiplier offer is listed on gsi3 under `T#{t}#OFFERS#MULTIPLIERS` by its end
    (`{valid_until or 9999-…}#{id}`), so a purchase reads only those not ended."""

    audit_resource = "offer"
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="offer")
    tenant_id = UnicodeAttribute()
    offer_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    type = UnicodeAttribute()
    points = NumberAttribute(null=True)
    multiplier = UnicodeAttribute(null=True)
    percent = UnicodeAttribute(null=True)
    amount = UnicodeAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    gift = UnicodeAttribute(null=True)
    coupon_days = NumberAttribute(null=True)
    valid_from = UTCDateTimeAttribute(null=True)
    valid_until = UTCDateTimeAttribute(null=True)
    active = BooleanAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    multipliers_by_end = MultiplierOffersByEnd()


class OfferIndexView(DataTableModel):
    """An offer item as the back-fill of its gsi3 keys updates it: without a version, so
    setting the keys leaves the offer's ETag as it was."""

    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)


class OffersIndexedItem(DataTableModel):
    """Marks a tenant whose multiplier offers are all on gsi3 (pk `T#{t}#OFFERS`, sk
    `INDEXED`). Listed at the end of the gsi3 partition (sk `~INDEXED`, after every end),
    so the Query of the offers not ended finds it too and needs no extra read."""

    entity = UnicodeAttribute(default="offers_indexed")
    gsi3pk = UnicodeAttribute()
    gsi3sk = UnicodeAttribute()
    indexed_at = UTCDateTimeAttribute()


class CustomerCoupons(GlobalSecondaryIndex["CouponItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class CouponItem(DataTableModel):
    """A coupon (pk `T#{t}#COUPON#{code}`, sk `COUPON`): created under the condition that
    the code is new in the tenant, redeemed once under the condition that it is not yet.
    On gsi1 under its customer, newest first."""

    audit_resource = "coupon"
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="coupon")
    tenant_id = UnicodeAttribute()
    code = UnicodeAttribute()
    offer_id = UnicodeAttribute()
    offer_type = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute(null=True)
    issued_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    redeemed_at = UTCDateTimeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)

    by_customer = CustomerCoupons()
