"""Item models of analytics: per-customer contributions and the tenant's counters."""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from chalicelib.dal.models.base import (
    DataTableModel,
)


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
