"""The audit trail: entries, their hashes, the digests that chain them, and verification.

Entries never hold personal values: ids, field names, actors and outcomes only. Each
tenant's entries are chained in digests, as CloudTrail's digest files chain log files: a
digest lists the hashes of the entries it covers and a link to the previous digest, and
is signed with the chain's asymmetric key (ECDSA P-256), which only the chain's functions
may use; digests from before that key are HMAC-signed (legacy). A digest is appended at
least once per digest period, even with no entries, so a cut tail shows as missing
coverage. Verification recomputes all of it, so an entry edited, deleted or inserted
behind the service's back, or a digest changed, removed or cut off the end, is found
(docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

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
# CSV exports of many customers (issue 16): each page's entry names the customers it holds
# (so they count towards `many_customers`) and, in `detail`, what was exported, the rows
# and whether it is an export's first page, which alone raises an `export` alert.
BULK_EXPORT_ACTIONS = frozenset({"export_customers", "export_segment"})
FIRST_EXPORT_PAGE = "first"
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
    return hashlib.sha256(_canonical_json(document).encode()).hexdigest()


@dataclass(frozen=True)
class DigestedEntry:
    """An entry as a digest remembers it: where it is, its hash, and when TTL may take it."""

    sort_key: str
    hash: str
    expires_at: int


class SignatureScheme(StrEnum):
    HMAC_SHA256 = "hmac-sha256"
    """Legacy: a key derived from the service secret, which the API functions hold too."""
    ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
    """The chain key: KMS deployed, a key file locally; only the chain's functions sign."""


ANCHORED_SCHEME = SignatureScheme.ECDSA_P256_SHA256


class DigestSigner(Protocol):
    """Signs digests; the chain's functions hold one."""

    @property
    def scheme(self) -> SignatureScheme: ...

    def sign(self, message: bytes) -> str: ...


class DigestVerifier(Protocol):
    """Checks a digest's signature under the scheme it names."""

    def verify(self, scheme: SignatureScheme, message: bytes, signature: str) -> bool: ...


@dataclass(frozen=True)
class HmacKey:
    """The legacy scheme's key, as signer and verifier of HMAC digests."""

    key: bytes
    scheme: SignatureScheme = SignatureScheme.HMAC_SHA256

    def sign(self, message: bytes) -> str:
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def verify(self, scheme: SignatureScheme, message: bytes, signature: str) -> bool:
        return scheme is self.scheme and hmac.compare_digest(self.sign(message), signature)


@dataclass(frozen=True)
class Digest:
    tenant_id: str
    sequence: int
    created_at: datetime
    previous_hash: str
    entries: tuple[DigestedEntry, ...]
    signature: str = ""
    scheme: SignatureScheme = SignatureScheme.HMAC_SHA256

    def canonical(self) -> dict[str, Any]:
        """What the signature covers: a legacy digest's form has no scheme (its
        signatures stay valid); any other names its scheme."""
        document: dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "sequence": self.sequence,
            "created_at": sortable_timestamp(self.created_at),
            "previous_hash": self.previous_hash,
            "entries": [[e.sort_key, e.hash, e.expires_at] for e in self.entries],
        }
        if self.scheme is not SignatureScheme.HMAC_SHA256:
            document["scheme"] = self.scheme.value
        return document

    def message(self) -> bytes:
        return _canonical_json(self.canonical()).encode()

    def signed(self, signer: DigestSigner) -> Digest:
        unsigned = replace(self, scheme=signer.scheme, signature="")
        return replace(unsigned, signature=signer.sign(unsigned.message()))

    def head(self) -> ChainHead:
        return ChainHead(self.sequence, self.created_at, link_to(self))


@dataclass(frozen=True)
class ChainHead:
    """What the next digest needs of the latest: its sequence, time and link."""

    sequence: int
    created_at: datetime
    link: str


def link_to(digest: Digest) -> str:
    """The `previous_hash` of the digest after `digest`. A chain-key digest is linked by
    the hash of its signed form, so the next digest commits to all of it and one verified
    signature (the newest) vouches for the chain behind it; a legacy digest by its
    signature (each legacy signature is checked)."""
    if digest.scheme is SignatureScheme.HMAC_SHA256:
        return digest.signature
    signed_form = digest.message() + b"\x00" + digest.signature.encode()
    return hashlib.sha256(signed_form).hexdigest()


GENESIS_HASH = "0" * 64


def _canonical_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def next_digest(
    tenant: str,
    head: ChainHead | None,
    entries: Sequence[AuditEntry],
    now: datetime,
    signer: DigestSigner,
) -> Digest:
    """The digest that follows `head` over `entries`. Its time never goes backwards, so
    digests sort by time and by sequence alike (writers' clocks may differ slightly)."""
    created = now if head is None else max(now, head.created_at)
    return Digest(
        tenant_id=tenant,
        sequence=1 if head is None else head.sequence + 1,
        created_at=created,
        previous_hash=GENESIS_HASH if head is None else head.link,
        entries=tuple(
            DigestedEntry(entry.sort_key, entry.digest_hash(), entry.expires_at)
            for entry in sorted(entries, key=lambda e: e.sort_key)
        ),
    ).signed(signer)


class Finding(StrEnum):
    ENTRY_MODIFIED = "entry_modified"
    ENTRY_MISSING = "entry_missing"
    ENTRY_NOT_IN_DIGEST = "entry_not_in_digest"
    DIGEST_MODIFIED = "digest_modified"
    DIGEST_MISSING = "digest_missing"
    DIGEST_GAP = "digest_gap"
    """Two chain-key digests further apart than the digest period allows: digests (and
    their entries) were cut out and the chain continued from an earlier head."""
    TAIL_MISSING = "tail_missing"
    """No chain-key digest within the digest period (and grace) before now: the newest
    digests were cut off, or the digest schedule stopped."""


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


@dataclass(frozen=True)
class Coverage:
    """What the digest schedule promises: a chain-key digest at least every `max_gap`
    (the digest period plus grace), up to now. `required` is False for a tenant younger
    than one period (its first digest may not be due yet)."""

    max_gap: timedelta
    required: bool = True


def entry_id_of(sort_key: str) -> str:
    return sort_key.rsplit("#", 1)[-1]


def verify_chain(
    verifier: DigestVerifier,
    entries: Mapping[str, AuditEntry],
    digests: Sequence[Digest],
    predecessor: Digest | None,
    window: tuple[datetime, datetime],
    now: datetime,
    pending_after: datetime,
    coverage: Coverage | None = None,
) -> Verification:
    """Check `digests` (in sequence order up to now, `predecessor` the one before the
    first, if any) and `entries` (by sort key, stored entries whose time is in `window`).

    An entry is `pending` when no digest covers it yet and it is newer than
    `pending_after` (the chain-building stream function has not reached it); older ones
    uncovered are insertions. A listed entry that is missing after its `expires_at` was
    taken by TTL, which is not tampering. With `coverage`, the newest digest must be a
    chain-key digest no older than its `max_gap`, and consecutive chain-key digests no
    further apart; a legacy (HMAC) digest after a chain-key one is a forgery.
    """
    mismatches: list[Mismatch] = []
    previous = predecessor
    covered: set[str] = set()
    start_key, end_key = entry_sort_key(window[0], ""), entry_sort_key(window[1], "~")
    for position, digest in enumerate(digests):
        successor = digests[position + 1] if position + 1 < len(digests) else None
        mismatches += _check_digest(verifier, previous, digest, successor)
        if coverage is not None:
            mismatches += _check_gap(previous, digest, coverage.max_gap)
        previous = digest
        listed = [e for e in digest.entries if start_key <= e.sort_key <= end_key]
        covered.update(e.sort_key for e in listed)
        mismatches += _check_listed(listed, entries, now)
    if coverage is not None and coverage.required:
        mismatches += _check_tail(verifier, previous, now, coverage.max_gap)
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


def _check_digest(
    verifier: DigestVerifier, previous: Digest | None, digest: Digest, successor: Digest | None
) -> list[Mismatch]:
    """Legacy digests' signatures are each checked; a chain-key digest's only when it is
    the newest (no `successor`), the links by hash vouching for the ones behind it."""
    checks_signature = successor is None or digest.scheme is not ANCHORED_SCHEME
    if checks_signature and not _signed_validly(verifier, digest):
        return [Mismatch(Finding.DIGEST_MODIFIED, digest_sequence=digest.sequence)]
    if _downgraded(previous, digest):
        return [Mismatch(Finding.DIGEST_MODIFIED, digest_sequence=digest.sequence)]
    if previous is not None and digest.sequence != previous.sequence + 1:
        return [Mismatch(Finding.DIGEST_MISSING, digest_sequence=previous.sequence + 1)]
    expected_previous = _expected_previous(previous, digest)
    if expected_previous is None or digest.previous_hash == expected_previous:
        return []
    # The link is broken: the digest changed, unless what follows still vouches for it
    # (its successor links to it as it is), in which case the one before it changed.
    vouched_for = successor is None or successor.previous_hash == link_to(digest)
    changed = previous if previous is not None and vouched_for else digest
    return [Mismatch(Finding.DIGEST_MODIFIED, digest_sequence=changed.sequence)]


def _signed_validly(verifier: DigestVerifier, digest: Digest) -> bool:
    return verifier.verify(digest.scheme, digest.message(), digest.signature)


def _downgraded(previous: Digest | None, digest: Digest) -> bool:
    """Once a chain is signed with the chain key, a legacy digest can only be forged."""
    return (
        previous is not None
        and previous.scheme is ANCHORED_SCHEME
        and digest.scheme is not ANCHORED_SCHEME
    )


def _check_gap(previous: Digest | None, digest: Digest, max_gap: timedelta) -> list[Mismatch]:
    if previous is None or ANCHORED_SCHEME not in (previous.scheme, digest.scheme):
        return []
    if previous.scheme is not digest.scheme or digest.created_at - previous.created_at <= max_gap:
        return []
    return [Mismatch(Finding.DIGEST_GAP, digest_sequence=digest.sequence, at=previous.created_at)]


def _check_tail(
    verifier: DigestVerifier, newest: Digest | None, now: datetime, max_gap: timedelta
) -> list[Mismatch]:
    """The newest digest (the last verified, or the predecessor when the window has none)
    must be a chain-key digest within `max_gap` of now."""
    if (
        newest is not None
        and newest.scheme is ANCHORED_SCHEME
        and newest.created_at >= now - max_gap
        and _signed_validly(verifier, newest)
    ):
        return []
    if newest is None:
        return [Mismatch(Finding.TAIL_MISSING)]
    return [Mismatch(Finding.TAIL_MISSING, digest_sequence=newest.sequence, at=newest.created_at)]


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
        return link_to(previous)
    return GENESIS_HASH if digest.sequence == 1 else None


def _entry_mismatch(finding: Finding, sort_key: str, entry: AuditEntry | None = None) -> Mismatch:
    at = entry.at if entry is not None else None
    return Mismatch(finding, entry_id=entry_id_of(sort_key), at=at)


def _mismatch_order(mismatch: Mismatch) -> tuple[int, str]:
    """Digests first (in sequence), then entries by time, then a missing tail (the most
    specific finding is reported first)."""
    if mismatch.finding is Finding.TAIL_MISSING:
        return (2, "")
    if mismatch.digest_sequence is not None:
        return (0, f"{mismatch.digest_sequence:012d}")
    return (1, sortable_timestamp(mismatch.at) if mismatch.at else "")


# Which path parameters name which resources; a customer id is also a resource id.
_PATH_RESOURCES = (
    "customer_id",
    "ticket_id",
    "segment_id",
    "key_id",
    "event_id",
    "tenant_id",
    "pair_id",
    "reward_id",
    "offer_id",
    "import_id",
)
MAX_RECORDED_IDS = 100


def returned_ids(body: object) -> tuple[list[str], list[str]]:
    """The resource ids and customer ids a response body carries: its own `id` and
    `customer_id` (or `customer_ids`, a duplicate pair's), and those of each of its
    `items` (lists and look-ups)."""
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
        named = getattr(candidate, "customer_ids", None)
        if isinstance(named, list):
            customers.extend(c for c in named if isinstance(c, str))
    return resources, customers


def ids_from_path(path_params: Mapping[str, str]) -> tuple[list[str], list[str]]:
    resources = [path_params[name] for name in _PATH_RESOURCES if name in path_params]
    customers = [path_params["customer_id"]] if "customer_id" in path_params else []
    return resources, customers


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))[:MAX_RECORDED_IDS]


def retention_expiry(at: datetime, retention_days: int) -> int:
    return int((at + timedelta(days=retention_days)).timestamp())
