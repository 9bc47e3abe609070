"""Item models of segments: per-customer state, members, counts, definitions, events."""

from __future__ import annotations

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from chalicelib.dal.models.base import (
    DataTableModel,
    _Gsi5,
)


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
