"""The audit trail's pure logic: hashing, digests, verification, change entries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from chalicelib.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    Digest,
    EntryKind,
    Finding,
    Verification,
    next_digest,
    returned_ids,
    verify_chain,
)
from chalicelib.services.audit import ItemChange, change_entry

KEY = b"k" * 32
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
WINDOW = (T0 - timedelta(hours=1), T0 + timedelta(hours=2))


def _entry(n: int, minutes: int = 0) -> AuditEntry:
    return AuditEntry(
        tenant_id="ten_A",
        entry_id=f"aud_{n:026d}",
        at=T0 + timedelta(minutes=minutes or n),
        kind=EntryKind.REQUEST,
        actor="key_1",
        role="admin",
        action="get_customer",
        resource_type="customers",
        request_id=f"req-{n}",
        expires_at=int((NOW + timedelta(days=30)).timestamp()),
        customer_ids=("cus_1",),
    )


def _chain(*batches: list[AuditEntry]) -> list[Digest]:
    digests: list[Digest] = []
    for i, batch in enumerate(batches):
        head = digests[-1] if digests else None
        digests.append(next_digest("ten_A", head, batch, T0 + timedelta(minutes=10 * i), KEY))
    return digests


def _verify(entries: list[AuditEntry], digests: list[Digest], now: datetime = NOW) -> Verification:
    stored = {e.sort_key: e for e in entries}
    return verify_chain(KEY, stored, digests, None, WINDOW, now, now - timedelta(hours=1))


def test_digests_chain_from_genesis_and_never_go_back_in_time() -> None:
    first, second = _chain([_entry(1)], [_entry(2)])
    late = next_digest("ten_A", second, [_entry(3)], T0 - timedelta(days=1), KEY)

    assert (first.sequence, first.previous_hash) == (1, GENESIS_HASH)
    assert (second.sequence, second.previous_hash) == (2, first.signature)
    assert late.created_at == second.created_at


def test_an_untouched_trail_verifies() -> None:
    entries = [_entry(n) for n in range(1, 6)]
    report = _verify(entries, _chain(entries[:2], entries[2:]))

    assert report.ok and report.entries_checked == 5 and report.digests_checked == 2


def test_each_kind_of_tampering_is_named() -> None:
    entries = [_entry(n) for n in range(1, 6)]
    digests = _chain(entries[:2], entries[2:4], entries[4:])
    edited = [replace(entries[0], actor="key_2"), *entries[1:]]
    forged = _entry(9, minutes=30)
    bad_digest = replace(digests[1], previous_hash="f" * 64)

    cases = {
        Finding.ENTRY_MODIFIED: _verify(edited, digests),
        Finding.ENTRY_MISSING: _verify(entries[1:], digests),
        Finding.ENTRY_NOT_IN_DIGEST: _verify([*entries, forged], digests),
        Finding.DIGEST_MODIFIED: _verify(entries, [digests[0], bad_digest, digests[2]]),
        Finding.DIGEST_MISSING: _verify(entries, [digests[0], digests[2]]),
    }

    for finding, report in cases.items():
        assert not report.ok
        assert report.first_mismatch is not None and report.first_mismatch.finding is finding


def test_expiry_and_pending_entries_are_not_tampering() -> None:
    entries = [_entry(n) for n in range(1, 4)]
    digests = _chain(entries)
    after_retention = NOW + timedelta(days=31)
    recent = replace(_entry(7), at=NOW - timedelta(minutes=5))

    expired = _verify(entries[1:], digests, now=after_retention)
    pending = verify_chain(
        KEY,
        {e.sort_key: e for e in [*entries, recent]},
        digests,
        None,
        (T0, NOW),
        NOW,
        NOW - timedelta(hours=1),
    )

    assert expired.ok
    assert pending.ok and pending.pending == 1


def test_a_change_entry_names_writer_and_changed_fields_only() -> None:
    image = {
        "pk": {"S": "T#ten_A#CUS#cus_1"},
        "sk": {"S": "PROFILE"},
        "entity": {"S": "customer"},
        "customer_id": {"S": "cus_1"},
        "name": {"S": "Ann"},
        "version": {"N": "1"},
        "written_by": {"S": "key_9"},
        "written_role": {"S": "staff"},
        "written_request": {"S": "req-9"},
        "written_action": {"S": "update_customer"},
    }
    written_at = T0 + timedelta(seconds=5, microseconds=250)
    renamed = {
        **image,
        "name": {"S": "Anna"},
        "version": {"N": "2"},
        "updated_at": {"S": written_at.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")},
    }
    audited = {"customer": "customer"}
    retention = {"ten_A": 30}.__getitem__

    entry = change_entry(ItemChange("MODIFY", "1", T0, image, renamed), audited, retention)
    only_bookkeeping = ItemChange("MODIFY", "2", T0, image, {**image, "version": {"N": "2"}})
    by_ttl = ItemChange("REMOVE", "3", T0, image, None, by_ttl=True)
    other = {**image, "entity": {"S": "unique"}}

    assert entry is not None
    assert (entry.actor, entry.role, entry.action) == ("key_9", "staff", "update_customer")
    assert entry.fields == ("name",) and entry.customer_ids == ("cus_1",)
    assert entry.at == written_at
    assert "Anna" not in str(entry.canonical())
    assert change_entry(only_bookkeeping, audited, retention) is None
    assert change_entry(ItemChange("INSERT", "4", T0, None, other), audited, retention) is None
    removed = change_entry(by_ttl, audited, retention)
    assert removed is not None and removed.actor == "system:ttl"
    same = change_entry(ItemChange("MODIFY", "1", T0, image, renamed), audited, retention)
    assert same is not None and same.entry_id == entry.entry_id


def test_returned_ids_come_from_the_body_and_its_items() -> None:
    page = SimpleNamespace(
        items=[SimpleNamespace(id="cus_1"), SimpleNamespace(id="tkt_1", customer_id="cus_2")]
    )

    resources, customers = returned_ids(page)

    assert resources == ["cus_1", "tkt_1"]
    assert customers == ["cus_1", "cus_2"]
