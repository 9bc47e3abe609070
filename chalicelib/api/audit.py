"""Audit trail routes: reading the trail, verifying its chain, its alerts."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.dal.audit import EntryFilter
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.paging import PageRequest
from chalicelib.schemas.audit import (
    AlertsQuery,
    AuditEntryOut,
    AuditEntryPage,
    TimeRange,
    TrailQuery,
    VerificationOut,
)
from chalicelib.services import audit as service

audit_api = Operations(__name__)


@audit_api.operation(
    "GET",
    "/v1/audit",
    summary="Read the audit trail",
    tag="audit",
    query=TrailQuery,
    response=AuditEntryPage,
)
def list_audit_entries(call: Call[None, TrailQuery]) -> Reply:
    """Newest first, filtered by one of customer, actor or action, within `from`..`to`
    (default the last 30 days). Entries name ids and field names, never personal values."""
    start, end = call.query.window()
    where = EntryFilter(start, end, call.query.customer_id, call.query.actor, call.query.action)
    page = service.list_entries(
        call.tenant, where, PageRequest(call.query.limit, call.query.cursor)
    )
    return Reply(_page(page.items, page.next_cursor))


@audit_api.operation(
    "GET",
    "/v1/audit/verify",
    summary="Verify the audit trail",
    tag="audit",
    query=TimeRange,
    response=VerificationOut,
)
def verify_audit_trail(call: Call[None, TimeRange]) -> Reply:
    """Recomputes every entry's hash and the digest chain over `from`..`to` (at most 31
    days) and reports `ok` or the first entry or digest that does not match."""
    start, end = call.query.window()
    return Reply(VerificationOut.of(service.verify(call.tenant, start, end), start, end))


@audit_api.operation(
    "GET",
    "/v1/audit/alerts",
    summary="Audit alerts",
    tag="audit",
    query=AlertsQuery,
    response=AuditEntryPage,
)
def list_audit_alerts(call: Call[None, AlertsQuery]) -> Reply:
    """Alerts raised on unusual access, newest first: any export, any erasure, and a key
    reading more distinct customers within a window than the tenant's configuration
    allows (`audit` in PUT /v1/config)."""
    start, end = call.query.window()
    page = service.list_alerts(
        call.tenant, start, end, PageRequest(call.query.limit, call.query.cursor)
    )
    return Reply(_page(page.items, page.next_cursor))


def _page(entries: list[AuditEntry], cursor: str | None) -> AuditEntryPage:
    return AuditEntryPage(items=[AuditEntryOut.of(e) for e in entries], next_cursor=cursor)
