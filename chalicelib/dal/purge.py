"""Finding and deleting one tenant's data items through the `by_tenant` index."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import decode_cursor, encode_cursor
from chalicelib.dal.models import TenantIndexEntry
from chalicelib.domain.tenancy import TenantId

SHARDS = keys.TENANT_SHARDS
PAGE_SIZE = 100


@dataclass(frozen=True)
class PurgePage:
    deleted: int
    next_cursor: str | None


def delete_page(tenant: TenantId, shard: int, cursor: str | None) -> PurgePage:
    """Delete one page of the tenant's items listed in one index shard (a Query and
    BatchWriteItem calls); answers how many and where the shard continues, if it does."""
    bound_settings()
    query = f"purge:{shard}"
    start = decode_cursor(tenant, query, cursor) if cursor else None
    results = TenantIndexEntry.by_tenant.query(
        keys.tenant_shard_pk(tenant, shard), limit=PAGE_SIZE, last_evaluated_key=start
    )
    entries = list(results)
    with TenantIndexEntry.batch_write() as batch:
        for entry in entries:
            batch.delete(TenantIndexEntry(pk=entry.pk, sk=entry.sk))
    last_key = results.last_evaluated_key
    next_cursor = encode_cursor(tenant, query, last_key) if last_key else None
    return PurgePage(deleted=len(entries), next_cursor=next_cursor)
