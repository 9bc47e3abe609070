"""Item models of interactions and loyalty: accounts, ledger, lots, orders, tallies."""

from __future__ import annotations

from pynamodb.attributes import (
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from chalicelib.dal.models.base import (
    DataTableModel,
    _Gsi2,
)


class InteractionsByType(_Gsi2["InteractionItem"]):
    pass


class LotsByExpiry(_Gsi2["LotItem"]):
    pass


class AccountsByTierEvaluation(_Gsi2["PointsItem"]):
    pass


class InteractionItem(DataTableModel):
    """One touchpoint on a customer's timeline (in the customer's partition)."""

    audit_resource = "interaction"
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="interaction")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    interaction_id = UnicodeAttribute()
    type = UnicodeAttribute()
    channel = UnicodeAttribute(null=True)
    location_id = UnicodeAttribute(null=True)
    occurred_at = UTCDateTimeAttribute()
    recorded_at = UTCDateTimeAttribute()
    details = UnicodeAttribute()
    custom_attributes = UnicodeAttribute(attr_name="attributes")
    points = NumberAttribute(default=0)

    by_type = InteractionsByType()


class PointsItem(DataTableModel):
    """A customer's points account: live lots, totals, tier. Versioned: every points write
    conditions on it. In gsi2 under its tier evaluation date while one is due."""

    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="points")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    lots = UnicodeAttribute()
    balance = NumberAttribute()
    lifetime_earned = NumberAttribute()
    redeemed = NumberAttribute()
    expired = NumberAttribute()
    reversed = NumberAttribute()
    deducted = NumberAttribute()
    clawback_pending = NumberAttribute()
    tier = UnicodeAttribute()
    spend_by_month = UnicodeAttribute()
    tier_evaluation = UnicodeAttribute(null=True)
    closed_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_tier_evaluation = AccountsByTierEvaluation()


class LedgerItem(DataTableModel):
    """An immutable ledger entry; its sort key orders by the account version that wrote it."""

    audit_resource = "points_transaction"
    entity = UnicodeAttribute(default="ledger_entry")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    type = UnicodeAttribute()
    points = NumberAttribute()
    balance_after = NumberAttribute()
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()
    interaction_id = UnicodeAttribute(null=True)
    reference = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    tier = UnicodeAttribute(null=True)


class LotItem(DataTableModel):
    """Marks that a customer holds a lot expiring on `expires_on`, listed in gsi2 under the
    tenant and that date, so the daily job reads exactly the lots due that day."""

    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="lot")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    expires_on = UnicodeAttribute()
    ttl = NumberAttribute(null=True)

    by_expiry = LotsByExpiry()


class PurchaseTallyItem(DataTableModel):
    """What one customer's purchases recorded with app credentials add up to on one UTC day
    (sk `LIMIT#APP_PURCHASES#{day}`, in the customer's partition), in ten-thousandths of the
    currency unit; raised in the purchase's transaction under a condition that it stays
    within the tenant's daily cap. Expires by TTL."""

    entity = UnicodeAttribute(default="purchase_tally")
    amount_units = NumberAttribute(default=0)
    ttl = NumberAttribute(null=True)


class OrderItem(DataTableModel):
    """Claims an order id within the tenant for one purchase; refunds update it."""

    entity = UnicodeAttribute(default="order")
    tenant_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    interaction_id = UnicodeAttribute()
    amount = UnicodeAttribute()
    currency = UnicodeAttribute()
    points = NumberAttribute()
    occurred_at = UTCDateTimeAttribute()
    refunded_amount = UnicodeAttribute()
    points_reversed = NumberAttribute()
    version = VersionAttribute()
