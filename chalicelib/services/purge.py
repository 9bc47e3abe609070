"""Offboarding: the purge of a deleted tenant's data from every table.

The purge pages through the tenant's own `by_tenant` index partitions (never a table scan)
and saves its progress on the tenant record after every page, so a crash resumes where it
stopped, and running it twice deletes nothing twice. It starts once the authorisation cache
can no longer admit the tenant's keys (deleted_at + the cache TTL), and a clean final pass
over every shard confirms that nothing was left behind (index propagation lags writes).
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib.dal import control, purge
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.paging import PageRequest
from chalicelib.domain.tenancy import PurgeProgress, PurgeStatus, Tenant, TenantId, TenantStatus
from chalicelib.settings import get_settings


def is_due(tenant: Tenant, now: datetime) -> bool:
    if tenant.status is not TenantStatus.DELETED or tenant.deleted_at is None:
        return False
    if tenant.purge is not None and tenant.purge.status is PurgeStatus.COMPLETED:
        return False
    grace = timedelta(seconds=get_settings().auth_cache_seconds)
    return now >= tenant.deleted_at + grace


def purge_tenant(
    tenant_id: TenantId, deadline: float, max_pages: int | None = None
) -> Tenant | None:
    """Purge until done, until `deadline` (time.monotonic()) or after `max_pages` pages;
    answers the tenant record as saved."""
    tenant = control.get_tenant(tenant_id)
    if tenant is None or not is_due(tenant, utc_now()):
        return tenant
    progress = tenant.purge or PurgeProgress()
    if progress.status is PurgeStatus.PENDING:
        progress = replace(progress, status=PurgeStatus.RUNNING, started_at=utc_now())
    clean_pass = progress.shard == 0 and progress.cursor is None
    pages = 0
    while time.monotonic() < deadline and (max_pages is None or pages < max_pages):
        pages += 1
        page = purge.delete_page(tenant_id, progress.shard, progress.cursor)
        clean_pass = clean_pass and page.deleted == 0
        progress = _advance(progress, page)
        if progress.shard == purge.SHARDS:
            if clean_pass:
                deleted = control.delete_control_items(tenant)
                tenant = replace(tenant, key_hashes=frozenset())
                progress = replace(
                    progress,
                    status=PurgeStatus.COMPLETED,
                    items_deleted=progress.items_deleted + deleted,
                    completed_at=utc_now(),
                    shard=0,
                )
            else:
                progress, clean_pass = replace(progress, shard=0), True
        tenant = _save_progress(tenant, progress)
        if tenant is None or progress.status is PurgeStatus.COMPLETED:
            return tenant
    return tenant


def _advance(progress: PurgeProgress, page: purge.PurgePage) -> PurgeProgress:
    counted = replace(progress, items_deleted=progress.items_deleted + page.deleted)
    if page.next_cursor is not None:
        return replace(counted, cursor=page.next_cursor)
    return replace(counted, shard=progress.shard + 1, cursor=None)


def _save_progress(tenant: Tenant, progress: PurgeProgress) -> Tenant | None:
    """Record progress; another worker that got there first wins and this one stops."""
    try:
        return control.save_tenant(tenant, replace(tenant, purge=progress, updated_at=utc_now()))
    except ConcurrentModification:
        return None


def run_due_purges(deadline: float) -> int:
    """Purge every deleted tenant that is due (the scheduled job); answers how many it saw."""
    seen = 0
    cursor = None
    while time.monotonic() < deadline:
        page = control.list_tenants(TenantStatus.DELETED, PageRequest(limit=100, cursor=cursor))
        for tenant in page.items:
            if is_due(tenant, utc_now()):
                seen += 1
                purge_tenant(tenant.id, deadline)
        cursor = page.next_cursor
        if cursor is None:
            break
    return seen
