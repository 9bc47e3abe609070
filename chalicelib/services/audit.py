"""The audit trail: what requests and changes it records, how entries are chained into
digests, verification, reading the trail, and alerts on unusual access (docs/security.md,
"Audit trail")."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from chalicelib.dal import audit as repository
from chalicelib.dal import control
from chalicelib.dal.attribution import (
    WRITER_ATTRIBUTES,
    WRITTEN_ACTION,
    WRITTEN_BY,
    WRITTEN_REQUEST,
    WRITTEN_ROLE,
)
from chalicelib.dal.audit import EntryFilter
from chalicelib.domain.audit import (
    ALERT_ACTION,
    BULK_EXPORT_ACTIONS,
    ERASURE_ACTION,
    EXPORT_ACTION,
    FIRST_EXPORT_PAGE,
    AlertRule,
    AuditEntry,
    ChainHead,
    Coverage,
    Digest,
    DigestSigner,
    EntryKind,
    Verification,
    next_digest,
    retention_expiry,
    unique,
    verify_chain,
)
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import FieldIssue, InvalidInput
from chalicelib.domain.ids import derived_id, new_audit_entry_id
from chalicelib.domain.paging import MAX_PAGE_SIZE, Page, PageRequest
from chalicelib.domain.plans import PLAN_LIMITS, Plan
from chalicelib.domain.tenancy import TenantId, TenantStatus, tenant_id
from chalicelib.observability import logger
from chalicelib.queues_config import SEND_MESSAGE_BATCH
from chalicelib.services.audit_signing import chain_signer, chain_verifier
from chalicelib.settings import get_settings
from chalicelib.streams_config import AUDIT_STREAM

APPEND_ATTEMPTS = 8
MAX_VERIFY_DAYS = 31
# How far a digest's clock may trail an entry's (they are written by different functions).
CLOCK_SKEW = timedelta(minutes=5)
# Entries not yet in a digest count as pending for as long as the chain's stream function
# may take to reach them (its maximum record age), then as insertions.
PENDING_GRACE = timedelta(seconds=AUDIT_STREAM.settings.maximum_record_age_seconds)


# A digest without entries (a heartbeat) is kept one day beyond the retention of an entry
# made with it, as a digest with entries is kept one day beyond its last entry's.
_DIGEST_KEPT_BEYOND_ENTRIES = timedelta(days=1)


def digest_period() -> timedelta:
    return timedelta(seconds=get_settings().audit_digest_period_seconds)


def _coverage_gap() -> timedelta:
    """How far apart digests may be: the digest period plus its grace."""
    return digest_period() + timedelta(seconds=get_settings().audit_digest_grace_seconds)


@dataclass(frozen=True)
class RequestRecord:
    """What the request path knows about a call to audit."""

    tenant: TenantId
    plan: Plan | None
    actor: str
    role: str
    action: str
    resource_type: str
    request_id: str
    method: str
    status: int
    resource_ids: Sequence[str] = ()
    customer_ids: Sequence[str] = ()
    fields: Sequence[str] = ()
    source_ip: str | None = None
    user_agent: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)


def _retention_days(tenant: TenantId, plan: Plan | None) -> int:
    if plan is None:
        found = control.get_tenant(tenant)
        plan = found.plan if found is not None else Plan.ENTERPRISE
    return PLAN_LIMITS[plan].audit_retention_days


def record_request(record: RequestRecord, now: datetime | None = None) -> AuditEntry:
    """Put the request's entry (one PutItem). Raises AuditUnavailable when it cannot."""
    at = now or utc_now()
    entry = AuditEntry(
        tenant_id=record.tenant,
        entry_id=new_audit_entry_id(),
        at=at,
        kind=EntryKind.REQUEST,
        actor=record.actor,
        role=record.role,
        action=record.action,
        resource_type=record.resource_type,
        request_id=record.request_id,
        expires_at=retention_expiry(at, _retention_days(record.tenant, record.plan)),
        resource_ids=unique(record.resource_ids),
        customer_ids=unique(record.customer_ids),
        fields=tuple(sorted(set(record.fields))),
        source_ip=record.source_ip,
        user_agent=(record.user_agent or "")[:256] or None,
        outcome=str(record.status),
        detail={**record.detail, "method": record.method},
    )
    repository.put_new_entry(record.tenant, entry)
    return entry


# --- changes, from the data table's stream ------------------------------------------------

# Attributes that are bookkeeping, not data: never reported as changed fields.
_BOOKKEEPING = {
    "pk",
    "sk",
    "entity",
    "tenant_id",
    "tenant_shard",
    "tenant_item",
    "version",
    "updated_at",
    *WRITER_ATTRIBUTES,
}
_RESOURCE_ID_ATTRIBUTE = {
    "customer": "customer_id",
    "interaction": "interaction_id",
    "points_transaction": "sk",
    "ticket": "ticket_id",
    "ticket_comment": "comment_id",
    "segment": "segment_id",
    "duplicate_pair": "pair_id",
    "reward": "reward_id",
    "reward_redemption": "redemption_id",
    "offer": "offer_id",
    "coupon": "code",
    "campaign": "campaign_id",
    "campaign_message": "campaign_id",
}


@dataclass(frozen=True)
class ItemChange:
    """A stream record of the data table, reduced to what the trail needs."""

    event: str  # INSERT, MODIFY or REMOVE
    sequence: str
    at: datetime
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    by_ttl: bool = False


def _text(image: Mapping[str, Any], name: str) -> str | None:
    value = image.get(name)
    return value.get("S") if isinstance(value, dict) else None


def _changed_fields(change: ItemChange) -> list[str]:
    old, new = change.old or {}, change.new or {}
    if change.event == "INSERT":
        names = set(new)
    elif change.event == "MODIFY":
        names = {name for name in set(old) | set(new) if old.get(name) != new.get(name)}
    else:
        names = set()
    return sorted(name for name in names if name not in _BOOKKEEPING and not name.startswith("gsi"))


def change_entry(
    change: ItemChange, audited: Mapping[str, str], retention_days: Callable[[str], int]
) -> AuditEntry | None:
    """The entry for one changed item, or None for items the trail does not audit and
    for modifications that touched only bookkeeping (the attribution before a delete).

    `audited` maps an item's `entity` to its resource type; `retention_days` answers a
    tenant's retention (asked only for an entry that is made)."""
    image = change.old if change.event == "REMOVE" else change.new
    if not image:
        return None
    resource_type = audited.get(_text(image, "entity") or "")
    if resource_type is None:
        return None
    fields = _changed_fields(change)
    if change.event == "MODIFY" and not fields:
        return None
    pk = _text(image, "pk") or ""
    tenant = pk.split("#")[1]
    customer = _text(image, "customer_id") or (pk.split("#CUS#")[1] if "#CUS#" in pk else None)
    resource_id = _text(image, _RESOURCE_ID_ATTRIBUTE[resource_type]) or ""
    if change.by_ttl:
        actor, role, request_id, action = "system:ttl", "system", "", "expire"
    else:
        actor = _text(image, WRITTEN_BY) or "unattributed"
        role = _text(image, WRITTEN_ROLE) or "unknown"
        request_id = _text(image, WRITTEN_REQUEST) or ""
        action = _text(image, WRITTEN_ACTION) or "unknown"
    at = max(change.at, _written_at(image) or change.at)
    return AuditEntry(
        tenant_id=tenant,
        entry_id=_entry_id_for_record(change.sequence),
        at=at,
        kind=EntryKind.CHANGE,
        actor=actor,
        role=role,
        action=action,
        resource_type=resource_type,
        request_id=request_id,
        expires_at=retention_expiry(at, retention_days(tenant)),
        resource_ids=(resource_id,) if resource_id else (),
        customer_ids=(customer,) if customer else (),
        fields=tuple(fields),
        outcome="success",
        detail={"event": change.event.lower()},
    )


def _written_at(image: Mapping[str, Any]) -> datetime | None:
    """The item's own `updated_at`: more precise than the stream record's time (whole
    seconds in AWS, whole minutes on DynamoDB Local), and as deterministic."""
    text = _text(image, "updated_at")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z") if text else None
    except ValueError:
        return None


def _entry_id_for_record(sequence: str) -> str:
    """The same stream record always makes the same entry (redelivery writes nothing)."""
    return derived_id("aud", f"data-stream:{sequence}")


def retention_by_tenant() -> Callable[[str], int]:
    """Each tenant's retention days, its tenant record read at most once (keep one per
    stream batch)."""
    return cache(lambda tenant: _retention_days(tenant_id(tenant), None))


def record_changes(
    changes: Iterable[ItemChange],
    audited: Mapping[str, str],
    retention_days: Callable[[str], int] | None = None,
) -> int:
    """Put the entries of changes; how many were new."""
    days = retention_days or retention_by_tenant()
    entries = [change_entry(change, audited, days) for change in changes]
    return sum(repository.put_entry(tenant_id(e.tenant_id), e) for e in entries if e is not None)


# --- the chain ---------------------------------------------------------------------------


def chain(
    tenant: TenantId,
    entries: Sequence[AuditEntry],
    now: datetime | None = None,
    signer: DigestSigner | None = None,
    retention_days: int | None = None,
) -> int:
    """Append one digest over `entries` (none: a heartbeat) to the tenant's chain; its
    sequence number. `retention_days` (read when needed) keeps a heartbeat.

    Writers (the stream function and the heartbeat consumer) race through the head's
    condition: the loser reads the new head and tries again, so the chain never forks.
    """
    signer = signer or chain_signer()
    for _ in range(APPEND_ATTEMPTS):
        head = repository.chain_head(tenant)
        sequence = _append_after(tenant, head, entries, now or utc_now(), signer, retention_days)
        if sequence is not None:
            return sequence
    raise RuntimeError(f"could not append to the audit chain of {tenant}")


def _append_after(
    tenant: TenantId,
    head: ChainHead | None,
    entries: Sequence[AuditEntry],
    at: datetime,
    signer: DigestSigner,
    retention_days: int | None,
) -> int | None:
    """One attempt: the digest after `head`, appended under the head's condition; its
    sequence, or None when another writer moved the head first."""
    digest = next_digest(tenant, head, entries, at, signer)
    if repository.append_digest(tenant, head, digest, _digest_expiry(digest, retention_days)):
        return digest.sequence
    return None


def _digest_expiry(digest: Digest, retention_days: int | None) -> int:
    latest = max((e.expires_at for e in digest.entries), default=None)
    if latest is None:
        days = retention_days or _retention_days(tenant_id(digest.tenant_id), None)
        latest = retention_expiry(digest.created_at, days)
    return latest + int(_DIGEST_KEPT_BEYOND_ENTRIES.total_seconds())


# --- heartbeats: the digest schedule queues pages of tenants, a queue consumer appends -----

HEARTBEAT_TENANTS_PER_PAGE = 100
"""Tenants per gsi1 Query page of the schedule, and so per message of the heartbeat queue."""
HEARTBEAT_PAGES_PER_SEND = SEND_MESSAGE_BATCH

QueueHeartbeatPages = Callable[[Sequence[Sequence[TenantId]]], object]


class HeartbeatsFailed(RuntimeError):
    """Some tenants of a page got no heartbeat (each was logged by name); the page's
    message is then received again, or dead-lettered after its last receive."""

    def __init__(self, tenants: Sequence[TenantId]) -> None:
        self.tenants = tuple(tenants)
        super().__init__(
            f"audit heartbeats failed for {len(self.tenants)} tenants: {list(self.tenants[:10])}"
        )


def queue_heartbeat_pages(deadline: float, queue: QueueHeartbeatPages) -> int:
    """The digest schedule: page through the tenants (one Query of gsi1 per page of
    HEARTBEAT_TENANTS_PER_PAGE, never a Scan) and queue the ids of each page's tenants
    not deleted as one message of the heartbeat queue, ten pages per `queue` call. It
    appends nothing itself: the queue's consumer does (`append_heartbeats`), so the run
    takes a Query per page whatever the number of tenants. Answers how many pages it
    queued; stops at the deadline (what it queued by then stays queued)."""
    pending: list[list[TenantId]] = []
    queued = 0
    stopped = False
    for tenants in control.tenant_pages(HEARTBEAT_TENANTS_PER_PAGE):
        page = [tenant.id for tenant in tenants if tenant.status is not TenantStatus.DELETED]
        if page:
            pending.append(page)
        if len(pending) == HEARTBEAT_PAGES_PER_SEND:
            queue(pending)
            queued, pending = queued + len(pending), []
        if time.monotonic() >= deadline:
            stopped = True
            break
    if pending:
        queue(pending)
        queued += len(pending)
    if stopped:
        logger.warning("audit heartbeat pages stopped at the deadline", queued=queued)
    return queued


def append_heartbeats(tenants: Sequence[TenantId], now: datetime | None = None) -> int:
    """The heartbeat queue's consumer, for one page of tenants: append a digest with no
    entries to the chain of each tenant not deleted (read again: it may have been deleted
    since it was queued) whose head is older than half a digest period (a busier chain
    was just extended by the stream function). Answers how many it appended.

    Idempotent under at-least-once delivery: a redelivered page finds the heads it
    extended recent and appends nothing, and two copies of a page at once race through
    the head's condition, the loser finding the winner's heartbeat recent. One tenant's
    failure does not stop the others: each is logged with its id, and the page then
    raises HeartbeatsFailed (its message is received again, or dead-lettered)."""
    signer = chain_signer()
    at = now or utc_now()
    appended = 0
    failed: list[TenantId] = []
    for tenant in tenants:
        try:
            appended += _append_heartbeat(tenant, at, signer)
        except Exception:  # noqa: BLE001 - one tenant's failure must not stop the page
            logger.exception("audit heartbeat failed", tenant_id=tenant)
            failed.append(tenant)
    if failed:
        raise HeartbeatsFailed(failed)
    return appended


def _append_heartbeat(tenant: TenantId, at: datetime, signer: DigestSigner) -> bool:
    found = control.get_tenant(tenant)
    if found is None or found.status is TenantStatus.DELETED:
        return False
    due_before = at - digest_period() / 2
    retention_days = PLAN_LIMITS[found.plan].audit_retention_days
    for _ in range(APPEND_ATTEMPTS):
        head = repository.chain_head(tenant)
        if head is not None and head.created_at > due_before:
            return False
        if _append_after(tenant, head, [], at, signer, retention_days) is not None:
            return True
    raise RuntimeError(f"could not append to the audit chain of {tenant}")


def verify(
    tenant: TenantId, start: datetime, end: datetime, now: datetime | None = None
) -> Verification:
    """Verify the window `start`..`end` as of `now` (entries whose retention ended by then
    may be gone), and that the chain reaches now: its newest digest signed with the chain
    key no older than the digest period plus grace (unless the tenant is younger than
    that)."""
    if end < start:
        raise InvalidInput([FieldIssue("to", "must not be before from", "range")])
    if end - start > timedelta(days=MAX_VERIFY_DAYS):
        raise InvalidInput(
            [FieldIssue("to", f"at most {MAX_VERIFY_DAYS} days after from", "range")]
        )
    now = now or utc_now()
    entries = repository.entries_between(tenant, start, end)
    digests = repository.digests_between(tenant, start - CLOCK_SKEW, now)
    first_time = digests[0].created_at if digests else start - CLOCK_SKEW
    predecessor = repository.digest_before(tenant, first_time)
    return verify_chain(
        chain_verifier(),
        entries,
        digests,
        predecessor,
        (start, end),
        now,
        pending_after=now - PENDING_GRACE,
        coverage=Coverage(_coverage_gap(), required=_tail_is_due(tenant, now)),
    )


def _tail_is_due(tenant: TenantId, now: datetime) -> bool:
    """Whether the tenant is old enough for its first scheduled digest to be due (one
    digest period plus grace)."""
    found = control.get_tenant(tenant)
    return found is None or found.created_at <= now - _coverage_gap()


def list_entries(tenant: TenantId, where: EntryFilter, page: PageRequest) -> Page[AuditEntry]:
    return repository.list_entries(tenant, where, page)


TRAIL_BEGINS = datetime(2020, 1, 1, tzinfo=UTC)


def entries_about_customer(tenant: TenantId, customer_id: str) -> list[AuditEntry]:
    """Every entry that names the customer (theirs to see in an export), oldest first:
    all pages of by_customer."""
    entries: list[AuditEntry] = []
    where = EntryFilter(TRAIL_BEGINS, utc_now(), customer_id=customer_id)
    cursor: str | None = None
    while True:
        page = repository.list_entries(tenant, where, PageRequest(MAX_PAGE_SIZE, cursor))
        entries += page.items
        cursor = page.next_cursor
        if cursor is None:
            return entries[::-1]


def list_alerts(
    tenant: TenantId, start: datetime, end: datetime, page: PageRequest
) -> Page[AuditEntry]:
    return repository.list_entries(tenant, EntryFilter(start, end, action=ALERT_ACTION), page)


# --- alerts and mentions, from the audit table's stream ------------------------------------


@dataclass(frozen=True)
class AlertThresholds:
    distinct_customers: int
    window: timedelta


def alert_entry(trigger: AuditEntry, rule: AlertRule, detail: Mapping[str, str]) -> AuditEntry:
    """The alert raised by `trigger` (the same trigger always makes the same alert)."""
    return AuditEntry(
        tenant_id=trigger.tenant_id,
        entry_id=derived_id("aud", f"alert:{rule}:{trigger.entry_id}"),
        at=trigger.at,
        kind=EntryKind.ALERT,
        actor=trigger.actor,
        role=trigger.role,
        action=ALERT_ACTION,
        resource_type="audit",
        request_id=trigger.request_id,
        expires_at=trigger.expires_at,
        resource_ids=(trigger.entry_id,),
        customer_ids=trigger.customer_ids,
        outcome="raised",
        detail={"rule": rule.value, **detail},
    )


def _window_start(at: datetime, window: timedelta) -> datetime:
    seconds = int(window.total_seconds())
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def alerts_for(entry: AuditEntry) -> list[AuditEntry]:
    """The alerts one entry raises on its own: every export (of a bulk export, its first
    page) and every erasure."""
    if entry.kind is not EntryKind.REQUEST or not entry.outcome.startswith("2"):
        return []
    if entry.action == EXPORT_ACTION:
        return [alert_entry(entry, AlertRule.EXPORT, {})]
    if entry.action in BULK_EXPORT_ACTIONS and entry.detail.get("page") == FIRST_EXPORT_PAGE:
        exported = {name: entry.detail[name] for name in ("export", "rows") if name in entry.detail}
        return [alert_entry(entry, AlertRule.EXPORT, exported)]
    if entry.action == ERASURE_ACTION:
        return [alert_entry(entry, AlertRule.ERASURE, {})]
    return []


def _is_customer_read(entry: AuditEntry) -> bool:
    return (
        entry.kind is EntryKind.REQUEST
        and entry.outcome.startswith("2")
        and entry.detail.get("method") == "GET"
        and bool(entry.customer_ids)
    )


def read_alerts(
    tenant: TenantId, entries: Sequence[AuditEntry], thresholds: AlertThresholds
) -> list[AuditEntry]:
    """The `many_customers` alerts of a batch's reads: per key and window, the customers
    read are added to the window in one update, and the read that takes the key past the
    threshold raises the window's one alert."""
    groups: dict[tuple[str, datetime], list[AuditEntry]] = {}
    for entry in entries:
        if _is_customer_read(entry):
            window = _window_start(entry.at, thresholds.window)
            groups.setdefault((entry.actor, window), []).append(entry)
    alerts = []
    for (actor, window), reads in groups.items():
        customers = {customer for read in reads for customer in read.customer_ids}
        expires = int((window + thresholds.window + timedelta(days=1)).timestamp())
        count = repository.note_customers_read(tenant, actor, window, customers, expires)
        if count is None or count <= thresholds.distinct_customers:
            continue
        if not repository.raise_window_alert(tenant, actor, window):
            continue
        detail = {
            "distinct_customers": str(count),
            "threshold": str(thresholds.distinct_customers),
            "window_start": window.isoformat(),
        }
        alerts.append(alert_entry(reads[-1], AlertRule.MANY_CUSTOMERS, detail))
    return alerts


@dataclass
class TrailBatch:
    """One batch of the audit table's stream: each tenant's new entries are chained in
    one digest and its reads counted towards alerts (once per tenant and batch); entries
    naming several customers get their mentions; exports and erasures raise alerts."""

    entries_by_tenant: dict[str, list[AuditEntry]]
    thresholds_of: Callable[[TenantId], AlertThresholds]
    done: dict[str, BaseException | None] = field(default_factory=dict)

    def handle(self, entry: AuditEntry) -> None:
        tenant = tenant_id(entry.tenant_id)
        if tenant not in self.done:
            try:
                self._per_tenant(tenant)
                self.done[tenant] = None
            except BaseException as error:
                self.done[tenant] = error
                raise
        elif self.done[tenant] is not None:
            raise RuntimeError(f"the trail of {tenant} failed earlier in this batch")
        if len(entry.customer_ids) > 1:
            repository.put_mentions(tenant, entry)
        for alert in alerts_for(entry):
            _raise(tenant, alert)

    def _per_tenant(self, tenant: TenantId) -> None:
        entries = self.entries_by_tenant[tenant]
        chain(tenant, entries)
        for alert in read_alerts(tenant, entries, self.thresholds_of(tenant)):
            _raise(tenant, alert)


def _raise(tenant: TenantId, alert: AuditEntry) -> None:
    if repository.put_entry(tenant, alert):
        logger.warning("audit alert", rule=alert.detail["rule"], actor=alert.actor)
    _publish_alert(tenant, alert)


def thresholds_of(tenant: TenantId) -> AlertThresholds:
    from chalicelib.services.tenant_config import get_tenant_config

    config = get_tenant_config(tenant).audit
    return AlertThresholds(
        config.distinct_customers_alert, timedelta(minutes=config.alert_window_minutes)
    )


def _publish_alert(tenant: TenantId, alert: AuditEntry) -> None:
    from chalicelib.services.segment_events import publish_alert

    publish_alert(tenant, alert)
