"""The audit trail: entries, their hashes, the digests that chain them, and verification.

Entries never hold personal values: ids, field names, actors and outcomes only. Each
tenant's entries are chained in digests, as CloudTrail's digest files chain log files: a
digest lists the hashes of the entries it covers and the previous digest's hash, and is
signed (HMAC) with the service's key. Verification recomputes all of it, so an entry
edited, deleted or inserted behind the service's back, or a digest changed or removed,
is found (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.domain.clock import sortable_timestamp


@dataclass(frozen=True)
class Writer:
    """Who a write is made for: `actor` is a key id, `platform` or `system:<function>`;
    `action` the operation (or job) that writes."""

    actor: str
    role: str
    request_id: str
    action: str


class EntryKind(StrEnum):
    REQUEST = "request"  # recorded on the request path: who called what, with which outcome
    CHANGE = "change"  # recorded from the data stream: an item created, changed or removed
    ALERT = "alert"  # raised by the trail itself on unusual access


class AlertRule(StrEnum):
    MANY_CUSTOMERS = "many_customers"
    EXPORT = "export"
    ERASURE = "erasure"


ALERT_ACTION = "alert"
EXPORT_ACTION = "export_customer"
ERASURE_ACTION = "erase_customer"


@dataclass(frozen=True)
class AuditEntry:
    tenant_id: str
    entry_id: str
    at: datetime
    kind: EntryKind
    actor: str
    role: str
    action: str
    resource_type: str
    request_id: str
    expires_at: int
    resource_ids: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    source_ip: str | None = None
    user_agent: str | None = None
    outcome: str = "success"
    detail: Mapping[str, str] = field(default_factory=dict)

    @property
    def sort_key(self) -> str:
        return entry_sort_key(self.at, self.entry_id)

    def canonical(self) -> dict[str, Any]:
        """Everything the entry says, in the form its hash covers."""
        return {
            "tenant_id": self.tenant_id,
            "entry_id": self.entry_id,
            "at": sortable_timestamp(self.at),
            "kind": self.kind.value,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "resource_type": self.resource_type,
            "request_id": self.request_id,
            "expires_at": self.expires_at,
            "resource_ids": list(self.resource_ids),
            "customer_ids": list(self.customer_ids),
            "fields": list(self.fields),
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
            "outcome": self.outcome,
            "detail": dict(sorted(self.detail.items())),
        }

    def digest_hash(self) -> str:
        return _sha256(self.canonical())


def entry_sort_key(at: datetime, entry_id: str) -> str:
    return f"E#{sortable_timestamp(at)}#{entry_id}"


def _sha256(document: Mapping[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class DigestedEntry:
    """An entry as a digest remembers it: where it is, its hash, and when TTL may take it."""

    sort_key: str
    hash: str
    expires_at: int


@dataclass(frozen=True)
class Digest:
    tenant_id: str
    sequence: int
    created_at: datetime
    previous_hash: str
    entries: tuple[DigestedEntry, ...]
    signature: str = ""

    def canonical(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "sequence": self.sequence,
            "created_at": sortable_timestamp(self.created_at),
            "previous_hash": self.previous_hash,
            "entries": [[e.sort_key, e.hash, e.expires_at] for e in self.entries],
        }

    def signed(self, key: bytes) -> Digest:
        return Digest(
            self.tenant_id,
            self.sequence,
            self.created_at,
            self.previous_hash,
            self.entries,
            sign(key, self.canonical()),
        )


GENESIS_HASH = "0" * 64


def sign(key: bytes, document: Mapping[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def next_digest(
    tenant: str,
    head: Digest | None,
    entries: Sequence[AuditEntry],
    now: datetime,
    key: bytes,
) -> Digest:
    """The digest that follows `head` over `entries`. Its time never goes backwards, so
    digests sort by time and by sequence alike (writers' clocks may differ slightly)."""
    created = now if head is None else max(now, head.created_at)
    return Digest(
        tenant_id=tenant,
        sequence=1 if head is None else head.sequence + 1,
        created_at=created,
        previous_hash=GENESIS_HASH if head is None else head.signature,
        entries=tuple(
            DigestedEntry(entry.sort_key, entry.digest_hash(), entry.expires_at)
            for entry in sorted(entries, key=lambda e: e.sort_key)
        ),
    ).signed(key)


class Finding(StrEnum):
    ENTRY_MODIFIED = "entry_modified"
    ENTRY_MISSING = "entry_missing"
    ENTRY_NOT_IN_DIGEST = "entry_not_in_digest"
    DIGEST_MODIFIED = "digest_modified"
    DIGEST_MISSING = "digest_missing"


@dataclass(frozen=True)
class Mismatch:
    finding: Finding
    entry_id: str | None = None
    digest_sequence: int | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries_checked: int
    digests_checked: int
    pending: int
    first_mismatch: Mismatch | None


def entry_id_of(sort_key: str) -> str:
    return sort_key.rsplit("#", 1)[-1]


def verify_chain(
    key: bytes,
    entries: Mapping[str, AuditEntry],
    digests: Sequence[Digest],
    predecessor: Digest | None,
    window: tuple[datetime, datetime],
    now: datetime,
    pending_after: datetime,
) -> Verification:
    """Check `digests` (in sequence order, `predecessor` the one before the first, if any)
    and `entries` (by sort key, stored entries whose time is in `window`).

    An entry is `pending` when no digest covers it yet and it is newer than
    `pending_after` (the chain-building stream function has not reached it); older ones
    uncovered are insertions. A listed entry that is missing after its `expires_at` was
    taken by TTL, which is not tampering.
    """
    mismatches: list[Mismatch] = []
    previous = predecessor
    covered: set[str] = set()
    start_key, end_key = entry_sort_key(window[0], ""), entry_sort_key(window[1], "~")
    for digest in digests:
        mismatches += _check_digest(key, previous, digest)
        previous = digest
        listed = [e for e in digest.entries if start_key <= e.sort_key <= end_key]
        covered.update(e.sort_key for e in listed)
        mismatches += _check_listed(listed, entries, now)
    pending = 0
    for sort_key, stored in entries.items():
        if sort_key in covered:
            continue
        if stored.at > pending_after:
            pending += 1
        else:
            mismatches.append(_entry_mismatch(Finding.ENTRY_NOT_IN_DIGEST, sort_key, stored))
    first = min(mismatches, key=_mismatch_order) if mismatches else None
    return Verification(
        ok=first is None,
        entries_checked=len(entries),
        digests_checked=len(digests),
        pending=pending,
        first_mismatch=first,
    )


def _check_digest(key: bytes, previous: Digest | None, digest: Digest) -> list[Mismatch]:
    expected_previous = _expected_previous(previous, digest)
    if digest.signature != sign(key, digest.canonical()):
        return [Mismatch(Finding.DIGEST_MODIFIED, digest_sequence=digest.sequence)]
    if expected_previous is not None and digest.previous_hash != expected_previous:
        return [Mismatch(Finding.DIGEST_MISSING, digest_sequence=digest.sequence - 1)]
    if previous is not None and digest.sequence != previous.sequence + 1:
        return [Mismatch(Finding.DIGEST_MISSING, digest_sequence=previous.sequence + 1)]
    return []


def _check_listed(
    listed: Iterable[DigestedEntry], entries: Mapping[str, AuditEntry], now: datetime
) -> list[Mismatch]:
    mismatches = []
    for digested in listed:
        stored = entries.get(digested.sort_key)
        if stored is None:
            if digested.expires_at > now.timestamp():
                mismatches.append(_entry_mismatch(Finding.ENTRY_MISSING, digested.sort_key))
        elif stored.digest_hash() != digested.hash:
            mismatches.append(_entry_mismatch(Finding.ENTRY_MODIFIED, digested.sort_key, stored))
    return mismatches


def _expected_previous(previous: Digest | None, digest: Digest) -> str | None:
    if previous is not None:
        return previous.signature
    return GENESIS_HASH if digest.sequence == 1 else None


def _entry_mismatch(finding: Finding, sort_key: str, entry: AuditEntry | None = None) -> Mismatch:
    at = entry.at if entry is not None else None
    return Mismatch(finding, entry_id=entry_id_of(sort_key), at=at)


def _mismatch_order(mismatch: Mismatch) -> tuple[int, str]:
    """Digests first (in sequence), then entries by time."""
    if mismatch.digest_sequence is not None:
        return (0, f"{mismatch.digest_sequence:012d}")
    return (1, sortable_timestamp(mismatch.at) if mismatch.at else "")


# Which path parameters name which resources; a customer id is also a resource id.
_PATH_RESOURCES = ("customer_id", "ticket_id", "segment_id", "key_id", "event_id", "tenant_id")
MAX_RECORDED_IDS = 100


def returned_ids(body: object) -> tuple[list[str], list[str]]:
    """The resource ids and customer ids a response body carries: its own `id` and
    `customer_id`, and those of each of its `items` (lists and look-ups)."""
    resources: list[str] = []
    customers: list[str] = []
    items = getattr(body, "items", None)
    candidates: Iterable[object] = [body, *items] if isinstance(items, list) else [body]
    for candidate in candidates:
        identifier = getattr(candidate, "id", None)
        customer = getattr(candidate, "customer_id", None)
        if isinstance(identifier, str):
            resources.append(identifier)
            if identifier.startswith("cus_"):
                customers.append(identifier)
        if isinstance(customer, str):
            customers.append(customer)
    return resources, customers


def ids_from_path(path_params: Mapping[str, str]) -> tuple[list[str], list[str]]:
    resources = [path_params[name] for name in _PATH_RESOURCES if name in path_params]
    customers = [path_params["customer_id"]] if "customer_id" in path_params else []
    return resources, customers


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))[:MAX_RECORDED_IDS]


def retention_expiry(at: datetime, retention_days: int) -> int:
    return int((at + timedelta(days=retention_days)).timestamp())
