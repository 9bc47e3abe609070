"""Item models of the audit table: entries, the digest chain, alert windows."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection

from chalicelib.dal.models.base import (
    AuditTableModel,
    _AuditIndex,
)


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
