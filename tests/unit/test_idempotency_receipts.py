"""Receipts hold no personal value, and records stored before receipts still read."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.outcomes import (
    BatchItemOutcome,
    BatchReceipt,
    BatchResult,
    InteractionReceipt,
    InteractionRecord,
    LedgerEntryRecord,
    MovementReceipt,
    PointsMovement,
)

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RECORD = InteractionRecord(
    id="int_1",
    customer_id="cus_1",
    type="feedback",
    channel=None,
    occurred_at=AT,
    recorded_at=AT,
    location_id=None,
    attributes={"lives": "above the bakery"},
    rating=2,
    text="the velvet armchair squeaked",
)
ENTRY = LedgerEntryRecord(
    id="000000000002#00",
    type="redeem",
    points=-20,
    balance_after=100,
    at=AT,
    actor="key_1",
    reason="birthday treat for Zelda",
    reference="voucher-zq-99",
)


def test_a_receipt_names_the_items_and_holds_none_of_their_text() -> None:
    batch = BatchResult(
        created=1,
        duplicates=0,
        failed=0,
        items=[BatchItemOutcome(index=0, outcome="created", interaction=RECORD)],
    )

    stored = BatchReceipt.of(batch).model_dump_json()

    assert "int_1" in stored and "cus_1" in stored
    for value in ("bakery", "velvet", "feedback"):
        assert value not in stored


def test_results_stored_before_receipts_still_read_as_receipts() -> None:
    old_interaction = RECORD.model_dump(mode="json")
    old_movement = PointsMovement(balance=100, entries=[ENTRY]).model_dump(mode="json")

    assert InteractionReceipt.model_validate(old_interaction) == InteractionReceipt.of(RECORD)
    assert MovementReceipt.model_validate(old_movement) == MovementReceipt(
        balance=100, entries=["000000000002#00"]
    )
    old_batch = {
        "created": 1,
        "duplicates": 0,
        "failed": 0,
        "items": [{"index": 0, "outcome": "created", "interaction": old_interaction}],
    }
    receipt = BatchReceipt.model_validate(old_batch)
    assert receipt.items[0].interaction == InteractionReceipt.of(RECORD)
