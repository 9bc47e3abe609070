"""PynamoDB item models. They never leave the DAL: repositories return domain objects."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.dal.keys import tenant_shard_of

UNBOUND = "unbound"  # replaced by chalicelib.dal.connection before first use


class DataTableModel(Model):
    """Base of every item kept in the data table (tenant data); bound lazily.

    Every item written through a model carries `tenant_shard` and `tenant_item`, the keys
    of the KEYS_ONLY `by_tenant` index through which a deleted tenant's data is purged.
    """

    class Meta:
        table_name = UNBOUND

    tenant_shard = UnicodeAttribute(null=True)
    tenant_item = UnicodeAttribute(null=True)

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        values = super().serialize(null_check=null_check)
        pk, sk = values["pk"]["S"], values["sk"]["S"]
        values["tenant_shard"] = {"S": tenant_shard_of(pk)}
        values["tenant_item"] = {"S": f"{pk}|{sk}"}
        return values

    def tenant_index_actions(self) -> list[Action]:
        """Update actions that list the item in `by_tenant`, for updates that may create it."""
        cls = type(self)
        pk, sk = str(getattr(self, "pk")), str(getattr(self, "sk"))  # noqa: B009
        return [cls.tenant_shard.set(tenant_shard_of(pk)), cls.tenant_item.set(f"{pk}|{sk}")]

    def update(
        self, actions: list[Action], condition: Condition | None = None, **kwargs: Any
    ) -> Any:
        return super().update(actions + self.tenant_index_actions(), condition, **kwargs)


class ControlTableModel(Model):
    """Base of every item kept in the control table (tenants, keys); bound lazily."""

    class Meta:
        table_name = UNBOUND


_M = TypeVar("_M", bound=Model)


class _Gsi1(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _Gsi2(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class CustomersByCreated(_Gsi1["CustomerItem"]):
    pass


class TenantsByCreated(_Gsi1["TenantItem"]):
    pass


class ApiKeysByOwner(_Gsi1["ApiKeyItem"]):
    pass


class TenantItemsIndex(GlobalSecondaryIndex["TenantIndexEntry"]):
    class Meta:
        index_name = "by_tenant"
        projection = KeysOnlyProjection()

    tenant_shard = UnicodeAttribute(hash_key=True)
    tenant_item = UnicodeAttribute(range_key=True)


class CustomerItem(DataTableModel):
    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="customer")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    external_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)
    gender = UnicodeAttribute(null=True)
    address = MapAttribute[str, str](null=True)
    tags = UnicodeSetAttribute(null=True)
    custom_attributes = MapAttribute[str, object](attr_name="attributes", null=True)
    consent = MapAttribute[str, bool](null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_created = CustomersByCreated()


class CounterItem(DataTableModel):
    """A tenant-wide count kept exact by the transactions that change it."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default="counter")
    value = NumberAttribute(default=0)


class UniqueItem(DataTableModel):
    """Claims a unique value (email, phone, external id) for one customer of a tenant."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default="unique")
    tenant_id = UnicodeAttribute()
    field = UnicodeAttribute()
    customer_id = UnicodeAttribute()


class TagItem(DataTableModel):
    """Lists a customer under one of its tags, newest customer first."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default="customer_tag")
    tenant_id = UnicodeAttribute()
    tag = UnicodeAttribute()
    customer_id = UnicodeAttribute()


class TenantsByStatus(GlobalSecondaryIndex["TenantItem"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class TenantItem(ControlTableModel):
    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="tenant")
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    plan = UnicodeAttribute()
    status = UnicodeAttribute()
    contact_email = UnicodeAttribute(null=True)
    key_count = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    deleted_at = UTCDateTimeAttribute(null=True)
    purge = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_created = TenantsByCreated()
    by_status = TenantsByStatus()


class ApiKeyItem(ControlTableModel):
    """An API key, stored under the SHA-256 of its secret: the secret itself is never kept."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="api_key")
    key_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute(null=True)
    role = UnicodeAttribute()
    label = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)
    rotated_to = UnicodeAttribute(null=True)
    tenant_status = UnicodeAttribute(null=True)
    tenant_plan = UnicodeAttribute(null=True)

    by_owner = ApiKeysByOwner()


class TenantConfigItem(ControlTableModel):
    """A tenant's whole configuration, as JSON, versioned."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default="tenant_config")
    tenant_id = UnicodeAttribute()
    document = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class TenantIndexEntry(DataTableModel):
    """The keys of any data item, as the `by_tenant` index lists them (for the purge)."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)

    by_tenant = TenantItemsIndex()


class UsageItem(ControlTableModel):
    """A tenant's requests and consumed capacity for one day, added to in batches."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default="usage")
    tenant_id = UnicodeAttribute()
    day = UnicodeAttribute()
    requests = NumberAttribute(default=0)
    read_capacity = NumberAttribute(default=0)
    write_capacity = NumberAttribute(default=0)


class InteractionsByType(_Gsi2["InteractionItem"]):
    pass


class LotsByExpiry(_Gsi2["LotItem"]):
    pass


class AccountsByTierEvaluation(_Gsi2["PointsItem"]):
    pass


class InteractionItem(DataTableModel):
    """One touchpoint on a customer's timeline (in the customer's partition)."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
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

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
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
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_tier_evaluation = AccountsByTierEvaluation()


class LedgerItem(DataTableModel):
    """An immutable ledger entry; its sort key orders by the account version that wrote it."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
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

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="lot")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    expires_on = UnicodeAttribute()

    by_expiry = LotsByExpiry()


class OrderItem(DataTableModel):
    """Claims an order id within the tenant for one purchase; refunds update it."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
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


class _Gsi5(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi5"
        projection = AllProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


class SegmentStatesByDueDay(_Gsi5["SegmentStateItem"]):
    pass


class SegmentStateItem(DataTableModel):
    """A customer's metrics and segment memberships (sk `SEGMENTS`, in the customer's
    partition), kept by the data stream consumer. Listed in gsi5 under the day its
    memberships next change by time alone (`T#{t}#SEGDUE#{day}#{shard}`)."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="customer_segments")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    metrics = UnicodeAttribute()
    segments = UnicodeAttribute()
    rfm = UnicodeAttribute(null=True)
    next_change = UnicodeAttribute(null=True)
    computed_on = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_due_day = SegmentStatesByDueDay()


class SegmentMemberItem(DataTableModel):
    """One member of a segment, in one of the segment's shards (`T#{t}#SEG#{id}#{nn}`)."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default="segment_member")
    tenant_id = UnicodeAttribute()
    segment_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    joined_at = UTCDateTimeAttribute()


class SegmentCountItem(DataTableModel):
    """One shard of a segment's member count (`T#{t}#SEGCOUNT#{nn}`, sk the segment id)."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default="segment_count")
    value = NumberAttribute(default=0)


class SegmentDefinitionItem(DataTableModel):
    """A custom segment (`T#{t}#SEGDEFS`, sk its id) with its back-fill progress."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default="segment")
    tenant_id = UnicodeAttribute()
    segment_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    rule = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    backfill = UnicodeAttribute()
    version = VersionAttribute()
