"""Item models of bulk imports (issue 16; docs/data-model.md, "Bulk import")."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)

from chalicelib.dal.models import DataTableModel


class ImportItem(DataTableModel):
    """One import (`T#{t}#IMPORTS`, sk `IMP#{id}`): its spec, status, checkpoint and
    counts. Its changes are bookkeeping, not audited resources: the requests that create
    and start it are audited, and the customers it writes are audited as the key that
    started it."""

    entity = UnicodeAttribute(default="import")
    tenant_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    format = UnicodeAttribute()
    upsert_key = UnicodeAttribute()
    mapping = MapAttribute[str, str]()
    delimiter = UnicodeAttribute(default=",")
    header_row = BooleanAttribute(default=True)
    date_format = UnicodeAttribute(default="%Y-%m-%d")
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    created_role = UnicodeAttribute()
    file_bytes = NumberAttribute(default=0)
    checkpoint = NumberAttribute(default=0)
    next_line = NumberAttribute(default=1)
    rows_done = NumberAttribute(default=0)
    created = NumberAttribute(default=0)
    updated = NumberAttribute(default=0)
    unchanged = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    failure = UnicodeAttribute(null=True)


class ImportErrorItem(DataTableModel):
    """A failed row (`T#{t}#IMPORT#{id}#ERRORS`, sk `L#{line}`): keyed by its line, so a
    chunk processed twice writes it once. Holds the field and reason, never the value."""

    entity = UnicodeAttribute(default="import_error")
    tenant_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    line = NumberAttribute()
    field = UnicodeAttribute(null=True)
    message = UnicodeAttribute()
