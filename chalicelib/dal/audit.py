"""The audit table: entries, mentions, digests and the chain head, alert windows.

Access patterns (docs/data-model.md, "Audit"): a request puts one entry (PutItem); the
trail is read newest first by one Query per page on the tenant's entries or on
by_customer / by_actor / by_action; a digest is appended with one transaction that also
moves the head under a condition on its sequence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, UpdateError

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import page_of
from chalicelib.dal.models import (
    AuditDigestItem,
    AuditEntryItem,
    AuditWindowItem,
    DataTableModel,
)
from chalicelib.dal.transactions import ConditionsFailed, LabelledTransaction, commit_with_retry
from chalicelib.domain.audit import (
    AuditEntry,
    ChainHead,
    Digest,
    DigestedEntry,
    EntryKind,
    SignatureScheme,
)
from chalicelib.domain.clock import sortable_timestamp
from chalicelib.domain.errors import AuditUnavailable, ConcurrentModification
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId

_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class EntryFilter:
    """At most one of customer, actor and action; the time range always applies."""

    start: datetime
    end: datetime
    customer_id: str | None = None
    actor: str | None = None
    action: str | None = None


def _item(tenant: TenantId, entry: AuditEntry) -> AuditEntryItem:
    single_customer = entry.customer_ids[0] if len(entry.customer_ids) == 1 else None
    return AuditEntryItem(
        pk=keys.audit_entries_pk(tenant),
        sk=entry.sort_key,
        tenant_id=entry.tenant_id,
        entry_id=entry.entry_id,
        at=entry.at,
        kind=entry.kind.value,
        actor=entry.actor,
        role=entry.role,
        action=entry.action,
        resource_type=entry.resource_type,
        request_id=entry.request_id,
        expires_at=entry.expires_at,
        resource_ids=list(entry.resource_ids),
        customer_ids=list(entry.customer_ids),
        fields=list(entry.fields),
        source_ip=entry.source_ip,
        user_agent=entry.user_agent,
        outcome=entry.outcome,
        detail=dict(entry.detail) or None,
        customer_key=keys.audit_customer_key(tenant, single_customer) if single_customer else None,
        actor_key=keys.audit_actor_key(tenant, entry.actor),
        action_key=keys.audit_action_key(tenant, entry.action),
    )


def entry_from_item(item: AuditEntryItem) -> AuditEntry:
    return AuditEntry(
        tenant_id=item.tenant_id,
        entry_id=item.entry_id,
        at=item.at,
        kind=EntryKind(item.kind),
        actor=item.actor,
        role=item.role,
        action=item.action,
        resource_type=item.resource_type,
        request_id=item.request_id,
        expires_at=int(item.expires_at),
        resource_ids=tuple(str(v) for v in item.resource_ids or ()),
        customer_ids=tuple(str(v) for v in item.customer_ids or ()),
        fields=tuple(str(v) for v in item.fields or ()),
        source_ip=item.source_ip,
        user_agent=item.user_agent,
        outcome=item.outcome,
        detail=item.detail.as_dict() if item.detail is not None else {},
    )


def entry_from_raw(raw: Mapping[str, Any]) -> AuditEntry:
    """An entry from a stream image (DynamoDB JSON)."""
    return entry_from_item(AuditEntryItem.from_raw_data(dict(raw)))


def put_entry(tenant: TenantId, entry: AuditEntry) -> bool:
    """Add an entry; False when it is there already (a redelivered change). Any other
    failure is AuditUnavailable: the caller decides whether the request may answer."""
    bound_settings()
    try:
        _item(tenant, entry).save(condition=AuditEntryItem.pk.does_not_exist())
    except PynamoDBException as error:
        if isinstance(error, PutError) and error.cause_response_code == _CONDITION_FAILED:
            return False
        raise AuditUnavailable("the audit trail could not record this request") from error
    return True


def put_new_entry(tenant: TenantId, entry: AuditEntry) -> None:
    """Add a request's entry (its id is new): an item already under its key is a
    collision, refused as AuditUnavailable, never overwritten."""
    if not put_entry(tenant, entry):
        raise AuditUnavailable("an audit entry with this key exists already")


def put_mentions(tenant: TenantId, entry: AuditEntry) -> None:
    """One copy of an entry naming several customers under each of them (idempotent)."""
    bound_settings()
    with AuditEntryItem.batch_write() as batch:
        for customer_id in entry.customer_ids:
            copy = _item(tenant, entry)
            copy.pk = keys.audit_mention_pk(tenant, customer_id)
            copy.mention = True
            copy.customer_key = keys.audit_customer_key(tenant, customer_id)
            copy.actor_key = None
            copy.action_key = None
            batch.save(copy)


def list_entries(tenant: TenantId, where: EntryFilter, page: PageRequest) -> Page[AuditEntry]:
    """Newest first; one Query per page (on an index when filtered)."""
    bound_settings()
    low = f"E#{sortable_timestamp(where.start)}"
    high = f"E#{sortable_timestamp(where.end)}#~"
    between = AuditEntryItem.sk.between(low, high)
    if where.customer_id is not None:
        index: Any = AuditEntryItem.by_customer
        partition = keys.audit_customer_key(tenant, where.customer_id)
        index_key: tuple[str, ...] = ("customer_key",)
    elif where.actor is not None:
        index = AuditEntryItem.by_actor
        partition = keys.audit_actor_key(tenant, where.actor)
        index_key = ("actor_key",)
    elif where.action is not None:
        index = AuditEntryItem.by_action
        partition = keys.audit_action_key(tenant, where.action)
        index_key = ("action_key",)
    else:
        index = AuditEntryItem
        partition = keys.audit_entries_pk(tenant)
        index_key = ()

    def run(start: dict[str, Any] | None, limit: int) -> Iterable[AuditEntryItem]:
        return index.query(
            partition,
            range_key_condition=between,
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        )

    items, cursor = page_of(tenant, f"audit:{partition}", page, run, index_key)
    return Page([entry_from_item(item) for item in items], cursor)


def entries_between(tenant: TenantId, start: datetime, end: datetime) -> dict[str, AuditEntry]:
    """Every entry of the window by sort key (verification reads them all)."""
    bound_settings()
    low = f"E#{sortable_timestamp(start)}"
    high = f"E#{sortable_timestamp(end)}#~"
    items = AuditEntryItem.query(
        keys.audit_entries_pk(tenant),
        range_key_condition=AuditEntryItem.sk.between(low, high),
        consistent_read=True,
    )
    return {item.sk: entry_from_item(item) for item in items}


def _digest(tenant: TenantId, item: AuditDigestItem) -> Digest:
    listed = json.loads(item.entries or "[]")
    return Digest(
        tenant_id=tenant,
        sequence=int(item.sequence),
        created_at=item.created_at,
        previous_hash=item.previous_hash or "",
        entries=tuple(DigestedEntry(str(k), str(h), int(e)) for k, h, e in listed),
        signature=item.signature,
        scheme=SignatureScheme(item.scheme or SignatureScheme.HMAC_SHA256),
    )


def chain_head(tenant: TenantId) -> ChainHead | None:
    """The latest digest as the head remembers it (sequence, time, link; a head written
    before links were stored links by the digest's signature)."""
    bound_settings()
    try:
        head = AuditDigestItem.get(
            keys.audit_digests_pk(tenant), keys.AUDIT_HEAD_SK, consistent_read=True
        )
    except AuditDigestItem.DoesNotExist:
        return None
    return ChainHead(int(head.sequence), head.created_at, head.link or head.signature)


def append_digest(
    tenant: TenantId, head: ChainHead | None, digest: Digest, expires_at: int | None
) -> bool:
    """Add `digest` after `head`, kept until `expires_at` (None: for good); False when
    another writer moved the head first."""
    bound_settings()
    pk = keys.audit_digests_pk(tenant)
    created = sortable_timestamp(digest.created_at)
    item = AuditDigestItem(
        pk=pk,
        sk=keys.audit_digest_sk(created, digest.sequence),
        sequence=digest.sequence,
        created_at=digest.created_at,
        signature=digest.signature,
        previous_hash=digest.previous_hash,
        entries=json.dumps([[e.sort_key, e.hash, e.expires_at] for e in digest.entries]),
        expires_at=expires_at,
        scheme=digest.scheme.value,
    )
    new_head = AuditDigestItem(
        pk=pk,
        sk=keys.AUDIT_HEAD_SK,
        sequence=digest.sequence,
        created_at=digest.created_at,
        signature=digest.signature,
        scheme=digest.scheme.value,
        link=digest.head().link,
    )
    moved = (
        AuditDigestItem.pk.does_not_exist()
        if head is None
        else AuditDigestItem.sequence == head.sequence
    )

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        transaction.put("digest", item, condition=AuditDigestItem.pk.does_not_exist())
        transaction.put("head", new_head, condition=moved)
        return transaction

    try:
        commit_with_retry(build)
    except (ConditionsFailed, ConcurrentModification):
        return False
    return True


def digests_between(tenant: TenantId, start: datetime, end: datetime) -> list[Digest]:
    bound_settings()
    items = AuditDigestItem.query(
        keys.audit_digests_pk(tenant),
        range_key_condition=AuditDigestItem.sk.between(
            f"D#{sortable_timestamp(start)}", f"D#{sortable_timestamp(end)}#~"
        ),
        consistent_read=True,
    )
    return sorted((_digest(tenant, item) for item in items), key=lambda d: d.sequence)


def digest_before(tenant: TenantId, moment: datetime) -> Digest | None:
    bound_settings()
    items = AuditDigestItem.query(
        keys.audit_digests_pk(tenant),
        range_key_condition=AuditDigestItem.sk < f"D#{sortable_timestamp(moment)}",
        scan_index_forward=False,
        limit=1,
        consistent_read=True,
    )
    return next((_digest(tenant, item) for item in items), None)


def note_customers_read(
    tenant: TenantId, actor: str, window: datetime, customers: Iterable[str], expires_at: int
) -> int | None:
    """Add to the distinct customers `actor` read in `window`; their number, or None once
    the window's alert was raised (the set stops growing)."""
    bound_settings()
    item = AuditWindowItem(pk=keys.audit_window_pk(tenant, actor), sk=sortable_timestamp(window))
    try:
        answer = item.update(
            actions=[
                AuditWindowItem.customers.add(set(customers)),
                AuditWindowItem.expires_at.set(expires_at),
            ],
            condition=AuditWindowItem.alerted.does_not_exist(),
        )
    except UpdateError as error:
        if error.cause_response_code == _CONDITION_FAILED:
            return None
        raise
    return len(answer["Attributes"].get("customers", {}).get("SS", []))


def raise_window_alert(tenant: TenantId, actor: str, window: datetime) -> bool:
    """Mark the window alerted; True for the one caller that did."""
    bound_settings()
    item = AuditWindowItem(pk=keys.audit_window_pk(tenant, actor), sk=sortable_timestamp(window))
    try:
        item.update(
            actions=[AuditWindowItem.alerted.set(True)],
            condition=AuditWindowItem.alerted.does_not_exist(),
        )
    except UpdateError as error:
        if error.cause_response_code == _CONDITION_FAILED:
            return False
        raise
    return True


def is_trail_entry(item_keys: Mapping[str, Any]) -> bool:
    """Whether keys (DynamoDB JSON) are those of an entry of a tenant's trail (not a
    mention, digest or window)."""
    pk = (item_keys.get("pk") or {}).get("S", "")
    sk = (item_keys.get("sk") or {}).get("S", "")
    parts = pk.split("#")
    return len(parts) == 3 and parts[0] == "T" and parts[2] == "AUDIT" and sk.startswith("E#")


def audited_entities() -> dict[str, str]:
    """Each audited data-table item's `entity` and the resource type the trail names."""
    from chalicelib.dal import merge_models

    del merge_models  # imported so that its audited item models are enumerated too
    audited = {}
    pending: list[type[DataTableModel]] = [DataTableModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        entity = model.get_attributes().get("entity")
        if model.audit_resource is not None and entity is not None and entity.default:
            audited[str(entity.default)] = model.audit_resource
    return audited
