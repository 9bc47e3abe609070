"""PynamoDB item models. They never leave the DAL: repositories return domain objects."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.dal.attribution import (
    WRITTEN_ACTION,
    WRITTEN_BY,
    WRITTEN_REQUEST,
    WRITTEN_ROLE,
    current_writer,
    writer_values,
)
from chalicelib.dal.invalid_values import refused_values_as_invalid, update_images
from chalicelib.dal.keys import tenant_shard_of

UNBOUND = "unbound"  # replaced by chalicelib.dal.connection before first use

# Every item model extends one of the two bases below, which name its table (through their
# shared Meta, bound lazily) and its keys `pk` and `sk`.


class DataTableModel(Model):
    """Base of every item kept in the data table (tenant data); bound lazily.

    Every item written through a model carries `tenant_shard` and `tenant_item`, the keys
    of the KEYS_ONLY `by_tenant` index through which a deleted tenant's data is purged,
    and the `written_*` attributes naming the current writer (chalicelib.dal.attribution).
    `audit_resource` names the resource type of models whose changes the audit trail
    records (None: bookkeeping the trail skips); their deletes are attributed too.
    """

    class Meta:
        table_name = UNBOUND

    audit_resource: ClassVar[str | None] = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tenant_shard = UnicodeAttribute(null=True)
    tenant_item = UnicodeAttribute(null=True)
    written_by = UnicodeAttribute(null=True, attr_name=WRITTEN_BY)
    written_role = UnicodeAttribute(null=True, attr_name=WRITTEN_ROLE)
    written_request = UnicodeAttribute(null=True, attr_name=WRITTEN_REQUEST)
    written_action = UnicodeAttribute(null=True, attr_name=WRITTEN_ACTION)

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        values = super().serialize(null_check=null_check)
        pk, sk = values["pk"]["S"], values["sk"]["S"]
        values["tenant_shard"] = {"S": tenant_shard_of(pk)}
        values["tenant_item"] = {"S": f"{pk}|{sk}"}
        writer = current_writer()
        if writer is not None:
            values.update({name: {"S": value} for name, value in writer_values(writer).items()})
        return values

    def tenant_index_actions(self) -> list[Action]:
        """Update actions that list the item in `by_tenant` (for updates that may create it)
        and name the current writer."""
        cls = type(self)
        pk, sk = self.pk, self.sk
        actions = [cls.tenant_shard.set(tenant_shard_of(pk)), cls.tenant_item.set(f"{pk}|{sk}")]
        return actions + self.attribution_actions()

    def attribution_actions(self) -> list[Action]:
        writer = current_writer()
        if writer is None:
            return []
        cls = type(self)
        return [
            cls.written_by.set(writer.actor),
            cls.written_role.set(writer.role),
            cls.written_request.set(writer.request_id),
            cls.written_action.set(writer.action),
        ]

    def save(self, condition: Condition | None = None, **kwargs: Any) -> dict[str, Any]:
        with refused_values_as_invalid(lambda: [self.serialize(null_check=False)]):
            return super().save(condition, **kwargs)

    def update(
        self, actions: list[Action], condition: Condition | None = None, **kwargs: Any
    ) -> Any:
        actions = actions + self.tenant_index_actions()
        with refused_values_as_invalid(lambda: [update_images(actions)]):
            return super().update(actions, condition, **kwargs)

    def delete(
        self, condition: Condition | None = None, *, add_version_condition: bool = True
    ) -> Any:
        self.attribute_delete()
        return super().delete(condition, add_version_condition=add_version_condition)

    def attribute_delete(self) -> None:
        """Name the deleting writer on an audited item just before it is deleted, so the
        stream's REMOVE record (whose old image is the item as last written) says who
        deleted it. Leaves the version alone; a no-op for a missing item."""
        actions = self.attribution_actions()
        if self.audit_resource is None or not actions:
            return
        cls = type(self)
        try:
            cls._get_connection().update_item(
                self.pk, range_key=self.sk, actions=actions, condition=cls.pk.exists()
            )
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise


class ControlTableModel(Model):
    """Base of every item kept in the control table (tenants, keys); bound lazily."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)

    def save(self, condition: Condition | None = None, **kwargs: Any) -> dict[str, Any]:
        with refused_values_as_invalid(lambda: [self.serialize(null_check=False)]):
            return super().save(condition, **kwargs)

    def update(
        self, actions: list[Action], condition: Condition | None = None, **kwargs: Any
    ) -> Any:
        with refused_values_as_invalid(lambda: [update_images(actions)]):
            return super().update(actions, condition, **kwargs)


class AuditTableModel(Model):
    """Base of every item kept in the audit table; bound lazily."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


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


class _Gsi3(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class _Gsi4(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi4"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


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
    audit_resource = "customer"
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

    entity = UnicodeAttribute(default="counter")
    value = NumberAttribute(default=0)


class UniqueItem(DataTableModel):
    """Claims a unique value (email, phone, external id) for one customer of a tenant."""

    entity = UnicodeAttribute(default="unique")
    tenant_id = UnicodeAttribute()
    field = UnicodeAttribute()
    customer_id = UnicodeAttribute()


class TagItem(DataTableModel):
    """Lists a customer under one of its tags, newest customer first."""

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
    gateway_key_id = UnicodeAttribute(null=True)
    gateway_plan = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_created = TenantsByCreated()
    by_status = TenantsByStatus()


class ApiKeyItem(ControlTableModel):
    """An API key, stored under the SHA-256 of its secret: the secret itself is never kept."""

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

    entity = UnicodeAttribute(default="tenant_config")
    tenant_id = UnicodeAttribute()
    document = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class TenantIndexEntry(DataTableModel):
    """The keys of any data item, as the `by_tenant` index lists them (for the purge)."""

    by_tenant = TenantItemsIndex()


class UsageItem(ControlTableModel):
    """A tenant's requests and consumed capacity for one day, added to in batches."""

    entity = UnicodeAttribute(default="usage")
    tenant_id = UnicodeAttribute()
    day = UnicodeAttribute()
    requests = NumberAttribute(default=0)
    read_capacity = NumberAttribute(default=0)
    write_capacity = NumberAttribute(default=0)


class TicketsByStatus(_Gsi1["TicketItem"]):
    pass


class TicketsByStatusAndPriority(_Gsi3["TicketItem"]):
    pass


class TicketsByDue(_Gsi4["TicketItem"]):
    pass


class CustomerTicketsByAssignee(_Gsi4["CustomerTicketItem"]):
    pass


class TicketEventsByTicket(_Gsi1["TicketEventItem"]):
    pass


class PublicTicketComments(_Gsi3["TicketCommentItem"]):
    pass


class TicketFields(DataTableModel):
    """The attributes of a ticket, shared by the ticket item and its copy under the customer.

    SLA durations are whole microseconds; `*_paused_us` is how long the SLA clock had stood
    still when that milestone was reached."""

    audit_resource: ClassVar[str | None] = "ticket"
    entity = UnicodeAttribute(default="ticket")
    tenant_id = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    category = UnicodeAttribute()
    subject = UnicodeAttribute()
    description = UnicodeAttribute()
    priority = UnicodeAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    tags = UnicodeSetAttribute(null=True)
    assignee = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by_key = UnicodeAttribute()
    created_by_role = UnicodeAttribute()
    first_response_target_us = NumberAttribute()
    resolution_target_us = NumberAttribute()
    paused_us = NumberAttribute(default=0)
    clock_stopped_at = UTCDateTimeAttribute(null=True)
    first_response_at = UTCDateTimeAttribute(null=True)
    first_response_paused_us = NumberAttribute(null=True)
    resolved_at = UTCDateTimeAttribute(null=True)
    resolution_paused_us = NumberAttribute(null=True)
    next_due_at = UTCDateTimeAttribute(null=True)
    rating = MapAttribute[str, object](null=True)
    comment_count = NumberAttribute(default=0)
    event_count = NumberAttribute(default=0)


class TicketItem(TicketFields):
    """The ticket (pk `T#{t}#TKT#{id}`, sk `TICKET`): read by id, listed by status,
    status and priority, and (while its SLA clock runs) by next due time."""

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi3pk = UnicodeAttribute()
    gsi3sk = UnicodeAttribute()
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_status = TicketsByStatus()
    by_status_and_priority = TicketsByStatusAndPriority()
    by_due = TicketsByDue()


class CustomerTicketItem(TicketFields):
    """A copy of the ticket in its customer's partition (sk `TICKET#{created}#{id}`),
    written in the same transaction: lists a customer's tickets and, on gsi4, an
    assignee's."""

    audit_resource = None
    entity = UnicodeAttribute(default="customer_ticket")
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    version = NumberAttribute()

    by_assignee = CustomerTicketsByAssignee()


class TicketCommentItem(DataTableModel):
    """A comment in its ticket's partition; public ones are also listed on gsi3."""

    audit_resource = "ticket_comment"
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="ticket_comment")
    tenant_id = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    comment_id = UnicodeAttribute()
    body = UnicodeAttribute()
    internal = BooleanAttribute()
    author_key = UnicodeAttribute()
    author_role = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    public = PublicTicketComments()


class TicketEventItem(DataTableModel):
    """A ticket event in the customer's partition (the interaction timeline's item
    collection), sk `TKTEV#{at}#{ticket_id}#{seq}`; gsi1 lists one ticket's events."""

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="ticket_event")
    tenant_id = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    seq = NumberAttribute()
    type = UnicodeAttribute()
    occurred_at = UTCDateTimeAttribute()
    actor_key = UnicodeAttribute()
    actor_role = UnicodeAttribute()
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    score = NumberAttribute(null=True)
    subject = UnicodeAttribute()
    category = UnicodeAttribute()
    priority = UnicodeAttribute()

    by_ticket = TicketEventsByTicket()


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

    entity = UnicodeAttribute(default="segment_member")
    tenant_id = UnicodeAttribute()
    segment_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    joined_at = UTCDateTimeAttribute()


class SegmentCountItem(DataTableModel):
    """One shard of a segment's member count (`T#{t}#SEGCOUNT#{nn}`, sk the segment id)."""

    entity = UnicodeAttribute(default="segment_count")
    value = NumberAttribute(default=0)


class SegmentDefinitionItem(DataTableModel):
    """A custom segment (`T#{t}#SEGDEFS`, sk its id) with its back-fill progress."""

    audit_resource = "segment"
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


class FailedEventsByTime(_Gsi5["SegmentEventItem"]):
    pass


class SegmentEventItem(DataTableModel):
    """A segment entry or exit to publish (`T#{t}#EVENT#{id}`, sk `EVENT`), written in the
    transaction that changed the membership (an outbox); the data stream consumer delivers
    it. Listed in gsi5 under `T#{t}#EVENTS#FAILED` once its deliveries gave up."""

    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="segment_event")
    tenant_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    segment_id = UnicodeAttribute(null=True)
    customer_id = UnicodeAttribute(null=True)
    occurred_at = UTCDateTimeAttribute()
    status = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)
    delivered_at = UTCDateTimeAttribute(null=True)
    replays = NumberAttribute(default=0)
    ttl = NumberAttribute(null=True)
    detail = MapAttribute[str, str](null=True)

    by_failure = FailedEventsByTime()


class _AuditIndex(GlobalSecondaryIndex[_M]):
    sk = UnicodeAttribute(range_key=True)


class AuditEntriesByCustomer(_AuditIndex["AuditEntryItem"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_key = UnicodeAttribute(hash_key=True)


class AuditEntriesByActor(_AuditIndex["AuditEntryItem"]):
    class Meta:
        index_name = "by_actor"
        projection = AllProjection()

    actor_key = UnicodeAttribute(hash_key=True)


class AuditEntriesByAction(_AuditIndex["AuditEntryItem"]):
    class Meta:
        index_name = "by_action"
        projection = AllProjection()

    action_key = UnicodeAttribute(hash_key=True)


class AuditEntryItem(AuditTableModel):
    """An audit entry (`T#{t}#AUDIT`, sk `E#{time}#{id}`), or a copy of one that names
    several customers, kept under each of them (`T#{t}#AUDIT#M#{customer}`, `mention`
    set) so that by_customer finds it. Never updated: the API may only put entries."""

    tenant_id = UnicodeAttribute()
    entry_id = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()
    actor = UnicodeAttribute()
    role = UnicodeAttribute()
    action = UnicodeAttribute()
    resource_type = UnicodeAttribute()
    request_id = UnicodeAttribute()
    expires_at = NumberAttribute()
    resource_ids = ListAttribute(of=UnicodeAttribute, default=list)
    customer_ids = ListAttribute(of=UnicodeAttribute, default=list)
    fields = ListAttribute(of=UnicodeAttribute, default=list)
    source_ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute()
    detail = MapAttribute[str, str](null=True)
    mention = BooleanAttribute(null=True)
    customer_key = UnicodeAttribute(null=True)
    actor_key = UnicodeAttribute(null=True)
    action_key = UnicodeAttribute(null=True)

    by_customer = AuditEntriesByCustomer()
    by_actor = AuditEntriesByActor()
    by_action = AuditEntriesByAction()


class AuditDigestItem(AuditTableModel):
    """A digest (`T#{t}#AUDIT#DIGESTS`, sk `D#{time}#{sequence}`) or the chain's head
    (same partition, sk `HEAD`: the latest digest's sequence, time, signature and link), which
    every append changes under a condition on its sequence: two writers cannot fork."""

    sequence = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    signature = UnicodeAttribute()
    previous_hash = UnicodeAttribute(null=True)
    entries = UnicodeAttribute(null=True)  # JSON: [[sort key, hash, expires_at], ...]
    expires_at = NumberAttribute(null=True)
    scheme = UnicodeAttribute(null=True)  # the signature's scheme; absent: legacy HMAC
    link = UnicodeAttribute(null=True)  # the head only: the next digest's previous_hash


class AuditWindowItem(AuditTableModel):
    """The distinct customers one actor read in one alert window (`T#{t}#AUDIT#W#{actor}`,
    sk the window's start); stops growing once its alert is raised."""

    customers = UnicodeSetAttribute(null=True)
    alerted = BooleanAttribute(null=True)
    expires_at = NumberAttribute()


class ErasureItem(DataTableModel):
    """The record that a customer was erased (sk `ERASURE`, in the customer's partition):
    written with the deletion of the profile, so an erasure interrupted midway resumes on
    the next request. It holds ids and times only, never a personal value."""

    entity = UnicodeAttribute(default="erasure")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    requested_at = UTCDateTimeAttribute()
    requested_by = UnicodeAttribute()
    completed_at = UTCDateTimeAttribute(null=True)
    items_anonymised = NumberAttribute(default=0)


class CustomerAnalyticsItem(DataTableModel):
    """What one customer has added to its tenant's analytics counters (sk `ANALYTICS`, in
    the customer's partition; zlib-compressed JSON), written by the data stream consumer
    in the same transaction as the counter deltas, under its version."""

    entity = UnicodeAttribute(default="customer_analytics")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    contribution = BinaryAttribute(legacy_encoding=False)
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class AnalyticsCounterItem(DataTableModel):
    """One shard of a tenant's analytics counters (`T#{t}#ANALYTICS#{nn}`, sk `GAUGE`,
    `DAY#{day}` or `COHORT#{month}`): one number attribute per figure, named at run time
    and only ever moved by `ADD`."""

    entity = UnicodeAttribute(default="analytics_counter")
