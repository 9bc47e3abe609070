"""The audit trail's pure logic: hashing, digests, verification, change entries."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from chalicelib.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    Coverage,
    Digest,
    DigestSigner,
    EntryKind,
    Finding,
    HmacKey,
    SignatureScheme,
    Verification,
    next_digest,
    returned_ids,
    verify_chain,
)
from chalicelib.services.audit import ItemChange, change_entry
from chalicelib.services.audit_signing import ChainVerifier, FileChainSigner, FilePublicKey

KEY = HmacKey(b"k" * 32)
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
        head = digests[-1].head() if digests else None
        digests.append(next_digest("ten_A", head, batch, T0 + timedelta(minutes=10 * i), KEY))
    return digests


def _verify(entries: list[AuditEntry], digests: list[Digest], now: datetime = NOW) -> Verification:
    stored = {e.sort_key: e for e in entries}
    return verify_chain(KEY, stored, digests, None, WINDOW, now, now - timedelta(hours=1))


def test_digests_chain_from_genesis_and_never_go_back_in_time() -> None:
    first, second = _chain([_entry(1)], [_entry(2)])
    late = next_digest("ten_A", second.head(), [_entry(3)], T0 - timedelta(days=1), KEY)

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


# --- the chain key and the chain's tail ---------------------------------------------------

PERIOD = timedelta(minutes=5)
COVERAGE = Coverage(max_gap=2 * PERIOD)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "audit-signing-key.pem"


@pytest.fixture
def chain_key(key_file: Path) -> FileChainSigner:
    return FileChainSigner(key_file)


@pytest.fixture
def verifier(key_file: Path, chain_key: FileChainSigner) -> ChainVerifier:
    chain_key.sign(b"make the key file")
    return ChainVerifier(FilePublicKey(key_file.with_name(key_file.name + ".pub")), KEY)


def _heartbeats(
    signer: DigestSigner,
    until: datetime,
    after: Digest | None = None,
    start: datetime | None = None,
) -> list[Digest]:
    """A digest every period after `after` (from `start`, or a period after `after`, or
    T0) up to `until`, with no entries."""
    digests: list[Digest] = []
    at = start or (after.created_at + PERIOD if after is not None else T0)
    head = after
    while at <= until:
        head = next_digest("ten_A", head.head() if head else None, [], at, signer)
        digests.append(head)
        at += PERIOD
    return digests


def _verify_tail(
    verifier: ChainVerifier,
    digests: list[Digest],
    now: datetime,
    entries: Sequence[AuditEntry] = (),
    coverage: Coverage = COVERAGE,
) -> Verification:
    stored = {e.sort_key: e for e in entries}
    window = (T0 - timedelta(hours=1), now)
    return verify_chain(verifier, stored, digests, None, window, now, now - PERIOD, coverage)


def test_the_local_chain_key_is_a_private_file_and_its_public_key_verifies(
    key_file: Path, chain_key: FileChainSigner, verifier: ChainVerifier
) -> None:
    # Given a digest signed with the local chain key
    digest = next_digest("ten_A", None, [_entry(1)], T0, chain_key)

    # Then the key file was made readable by its owner only, beside its public key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"PRIVATE" not in key_file.with_name(key_file.name + ".pub").read_bytes()
    # and the digest names the scheme, verifies with the public key, and not once changed
    assert digest.scheme is SignatureScheme.ECDSA_P256_SHA256
    assert verifier.verify(digest.scheme, digest.message(), digest.signature)
    assert not verifier.verify(
        digest.scheme, replace(digest, sequence=2).message(), digest.signature
    )


def test_a_damaged_or_missing_public_key_fails_verification_without_an_error(
    tmp_path: Path, chain_key: FileChainSigner
) -> None:
    # Given a digest signed with the chain key, and public key files missing or damaged
    digest = next_digest("ten_A", None, [], T0, chain_key)
    damaged = tmp_path / "damaged.pub"
    damaged.write_text("not a key")

    # Then verification answers False rather than raising
    for path in (tmp_path / "missing.pub", damaged):
        assert not FilePublicKey(path).verify(digest.scheme, digest.message(), digest.signature)


def test_a_chain_of_heartbeats_up_to_now_verifies(
    chain_key: FileChainSigner, verifier: ChainVerifier
) -> None:
    # Given a chain extended every period, mostly by digests without entries
    entries = [_entry(1), _entry(2)]
    first = next_digest("ten_A", None, entries, T0, chain_key)
    digests = [first, *_heartbeats(chain_key, NOW, after=first)]

    # When it is verified just under two periods after its newest digest
    report = _verify_tail(verifier, digests, digests[-1].created_at + PERIOD, entries)

    # Then all is well
    assert report.ok, report.first_mismatch
    assert report.digests_checked == len(digests) and report.entries_checked == 2


def test_a_cut_tail_is_reported_with_the_time_of_the_last_digest(
    chain_key: FileChainSigner, verifier: ChainVerifier
) -> None:
    # Given a chain extended every period up to now
    digests = _heartbeats(chain_key, NOW)

    # When its newest digests are gone (cut), or it never had one
    cut = _verify_tail(verifier, digests[:-3], NOW)
    empty = _verify_tail(verifier, [], NOW)

    # Then verification names the missing tail and when the chain stopped
    assert cut.first_mismatch is not None
    assert cut.first_mismatch.finding is Finding.TAIL_MISSING
    assert cut.first_mismatch.at == digests[-4].created_at
    assert cut.first_mismatch.digest_sequence == digests[-4].sequence
    assert empty.first_mismatch is not None and empty.first_mismatch.finding is Finding.TAIL_MISSING


def test_a_tenant_younger_than_the_period_is_not_reported(verifier: ChainVerifier) -> None:
    report = _verify_tail(verifier, [], NOW, coverage=Coverage(2 * PERIOD, required=False))

    assert report.ok


def test_a_tail_cut_and_grown_again_is_a_gap(
    chain_key: FileChainSigner, verifier: ChainVerifier
) -> None:
    # Given a chain whose last hour was cut, and the head rewound: the chain grew on
    digests = _heartbeats(chain_key, NOW - timedelta(hours=1))
    kept = digests[:-12]
    regrown = _heartbeats(chain_key, NOW, after=kept[-1], start=digests[-1].created_at)

    # When it is verified
    report = _verify_tail(verifier, [*kept, *regrown], NOW)

    # Then the hole in time is found where the chain resumed
    assert report.first_mismatch is not None
    assert report.first_mismatch.finding is Finding.DIGEST_GAP
    assert report.first_mismatch.digest_sequence == regrown[0].sequence
    assert report.first_mismatch.at == kept[-1].created_at


def test_a_head_rewound_and_signed_with_the_legacy_key_is_found(
    chain_key: FileChainSigner, verifier: ChainVerifier
) -> None:
    # Given a chain whose newest digests were cut and replaced by ones signed with the
    # HMAC key (which the API functions hold)
    digests = _heartbeats(chain_key, NOW)
    kept = digests[:-3]
    forged = _heartbeats(KEY, NOW, after=kept[-1])

    # When it is verified
    report = _verify_tail(verifier, [*kept, *forged], NOW)

    # Then the first forged digest is reported as modified (a downgrade)
    assert report.first_mismatch is not None
    assert report.first_mismatch.finding is Finding.DIGEST_MODIFIED
    assert report.first_mismatch.digest_sequence == forged[0].sequence


def test_a_digest_signed_with_any_other_key_is_modified(
    tmp_path: Path, chain_key: FileChainSigner, verifier: ChainVerifier
) -> None:
    # Given a chain whose newest digest was made with another P-256 key
    digests = _heartbeats(chain_key, NOW - PERIOD)
    other_key = FileChainSigner(tmp_path / "other.pem")
    forged = next_digest("ten_A", digests[-1].head(), [], NOW, other_key)

    # When it is verified
    report = _verify_tail(verifier, [*digests, forged], NOW)

    # Then the forged digest is reported
    assert report.first_mismatch is not None
    assert report.first_mismatch.finding is Finding.DIGEST_MODIFIED
    assert report.first_mismatch.digest_sequence == forged.sequence


def test_an_edited_chain_key_digest_is_found_by_its_successors_link(
    chain_key: FileChainSigner, verifier: ChainVerifier
) -> None:
    # Given a chain-key chain (only the newest digest's signature is checked) whose middle
    # digest lost an entry it listed, its signature kept
    entries = [_entry(1), _entry(2)]
    first = next_digest("ten_A", None, [], T0, chain_key)
    middle = next_digest("ten_A", first.head(), entries, T0 + PERIOD, chain_key)
    rest = _heartbeats(chain_key, NOW, after=middle)
    edited = replace(middle, entries=middle.entries[1:])

    # When it is verified
    report = _verify_tail(verifier, [first, edited, *rest], NOW, entries)

    # Then the edited digest is named
    assert report.first_mismatch is not None
    assert report.first_mismatch.finding is Finding.DIGEST_MODIFIED
    assert report.first_mismatch.digest_sequence == middle.sequence


def test_a_legacy_chain_continues_under_the_chain_key(
    chain_key: FileChainSigner, verifier: ChainVerifier
) -> None:
    # Given a chain of HMAC digests (before the chain key), then one heartbeat per period
    legacy = _chain([_entry(1)], [_entry(2)])
    anchored = [next_digest("ten_A", legacy[-1].head(), [], NOW - PERIOD, chain_key)]

    # When it is verified, and when only the legacy digests are there
    report = _verify_tail(verifier, [*legacy, *anchored], NOW, [_entry(1), _entry(2)])
    legacy_only = _verify_tail(verifier, legacy, NOW, [_entry(1), _entry(2)])

    # Then the mixed chain verifies, but legacy digests alone never cover the tail
    assert report.ok, report.first_mismatch
    assert legacy_only.first_mismatch is not None
    assert legacy_only.first_mismatch.finding is Finding.TAIL_MISSING


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
