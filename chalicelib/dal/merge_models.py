"""Item models of customer merges (issue 16). See docs/data-model.md ("Customer merge")."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from chalicelib.dal.models import DataTableModel


class MergeItem(DataTableModel):
    """The merge record, in the survivor's partition (sk `MERGE#{merge id}`): written first,
    advanced by every step of the move (`steps`, conditioned), `done` at the end."""

    audit_resource = "customer_merge"
    entity = UnicodeAttribute(default="customer_merge")
    tenant_id = UnicodeAttribute()
    merge_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    sources = UnicodeAttribute()
    state = UnicodeAttribute()
    steps = NumberAttribute(default=0)
    items_moved = NumberAttribute(default=0)
    started_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
    started_by = UnicodeAttribute()


class MergedMarkerItem(DataTableModel):
    """Left in a merged source's partition (sk `MERGED`): where it went, and what unmerge
    needs to restore it (the profile as it was, the points account it brought)."""

    entity = UnicodeAttribute(default="merged_marker")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    merged_into = UnicodeAttribute()
    merge_id = UnicodeAttribute()
    merged_at = UTCDateTimeAttribute()
    profile = UnicodeAttribute()
    account = UnicodeAttribute(null=True)
    account_moved = NumberAttribute(default=0)
    unmerging = NumberAttribute(default=0)


class MergeStepItem(DataTableModel):
    """The moved-item log of one step (sk `MERGE#{merge id}#STEP#{source}#{step}`), written
    in the step's transaction: each moved item's sort key at the survivor and its original."""

    entity = UnicodeAttribute(default="customer_merge_step")
    tenant_id = UnicodeAttribute()
    merge_id = UnicodeAttribute()
    source_id = UnicodeAttribute()
    moved = UnicodeAttribute()


class AnyDataItem(DataTableModel):
    """Any item of the data table addressed by its key alone (a merge deletes the derived
    items of a source, which the stream rebuilds for the survivor)."""
