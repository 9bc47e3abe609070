"""The keys-only view of every data item through the `by_tenant` index (the purge)."""

from __future__ import annotations

from pynamodb.attributes import (
    UnicodeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.dal.models.base import (
    DataTableModel,
)


class TenantItemsIndex(GlobalSecondaryIndex["TenantIndexEntry"]):
    class Meta:
        index_name = "by_tenant"
        projection = KeysOnlyProjection()

    tenant_shard = UnicodeAttribute(hash_key=True)
    tenant_item = UnicodeAttribute(range_key=True)


class TenantIndexEntry(DataTableModel):
    """The keys of any data item, as the `by_tenant` index lists them (for the purge)."""

    by_tenant = TenantItemsIndex()
