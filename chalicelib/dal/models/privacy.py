"""Item models of erasure (the right to be forgotten)."""

from __future__ import annotations

from pynamodb.attributes import (
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)

from chalicelib.dal.models.base import (
    DataTableModel,
)


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
