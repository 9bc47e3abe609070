"""The data stream's record handling with a fake refresh: Powertools partial batches,
one refresh per customer per batch, poisoned records failed alone."""

from __future__ import annotations

from chalicelib.domain.tenancy import TenantId
from chalicelib.streams.data_table import process_batch
from tests.support.streams import StreamEventBuilder

TENANT = "ten_01M81Y3CBPRNGM9WHT0MQZ3JPG"
ANN = "cus_01M81Y3CH4RRSFSN4Y0ZYM108V"
BOB = "cus_01M81Y3D0DH84V0D728A2JRM31"


def _pk(customer: str) -> str:
    return f"T#{TENANT}#CUS#{customer}"


def _interaction(customer: str, n: int, details: str = '{"amount": "10"}') -> dict[str, object]:
    return {
        "pk": _pk(customer),
        "sk": f"INT#2026-11-22T10:00:0{n}.000000Z#int_{n}",
        "entity": "interaction",
        "interaction_id": f"int_{n}",
        "type": "purchase",
        "occurred_at": f"2026-11-22T10:00:0{n}.000000Z",
        "details": details,
    }


class FakeRefresh:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.calls: list[tuple[TenantId, str]] = []
        self.failing = failing or set()

    def __call__(self, tenant: TenantId, customer_id: str) -> None:
        self.calls.append((tenant, customer_id))
        if customer_id in self.failing:
            raise RuntimeError("DynamoDB said no")


def test_each_customer_is_refreshed_once_per_batch() -> None:
    # Given a batch with three records of Ann and one of Bob
    builder = StreamEventBuilder()
    for n in range(3):
        builder.insert(_interaction(ANN, n))
    builder.modify(_interaction(BOB, 4), _interaction(BOB, 4))
    refresh = FakeRefresh()
    # When it is processed
    answer = process_batch(builder.build(), None, refresh)
    # Then nothing failed and each customer was refreshed once
    assert answer == {"batchItemFailures": []}
    assert refresh.calls == [(TENANT, ANN), (TENANT, BOB)]


def test_a_poisoned_record_fails_alone() -> None:
    # Given a batch whose second record's details are not JSON
    builder = StreamEventBuilder()
    builder.insert(_interaction(ANN, 1))
    builder.insert(_interaction(BOB, 2, details="{not json"))
    builder.insert(_interaction(BOB, 3))
    builder.insert({"pk": "T#junk", "sk": "PROFILE", "entity": "customer"})
    refresh = FakeRefresh()
    # When it is processed
    answer = process_batch(builder.build(), None, refresh)
    # Then only the poisoned record is reported, and the others were handled
    poisoned = builder.sequence_numbers()[1]
    assert answer == {"batchItemFailures": [{"itemIdentifier": poisoned}]}
    assert refresh.calls == [(TENANT, ANN), (TENANT, BOB)]


def test_every_record_of_a_customer_whose_refresh_failed_is_reported() -> None:
    builder = StreamEventBuilder()
    builder.insert(_interaction(ANN, 1)).insert(_interaction(BOB, 2)).insert(_interaction(ANN, 3))
    refresh = FakeRefresh(failing={ANN})

    answer = process_batch(builder.build(), None, refresh)

    first, _, third = builder.sequence_numbers()
    assert answer == {"batchItemFailures": [{"itemIdentifier": first}, {"itemIdentifier": third}]}
    assert refresh.calls == [(TENANT, ANN), (TENANT, BOB)]


def test_the_consumers_own_state_items_and_other_partitions_are_ignored() -> None:
    builder = StreamEventBuilder()
    builder.insert({"pk": _pk(ANN), "sk": "SEGMENTS", "entity": "customer_segments"})
    builder.insert({"pk": f"T#{TENANT}#SEG#lifecycle:new#03", "sk": ANN})
    builder.remove({"pk": f"T#{TENANT}#TAG#vip", "sk": "x"})
    refresh = FakeRefresh()

    assert process_batch(builder.build(), None, refresh) == {"batchItemFailures": []}
    assert refresh.calls == []


def test_a_removed_item_refreshes_its_customer_from_the_old_image() -> None:
    builder = StreamEventBuilder().remove(
        {"pk": _pk(ANN), "sk": "PROFILE", "entity": "customer", "customer_id": ANN}
    )
    refresh = FakeRefresh()

    process_batch(builder.build(), None, refresh)

    assert refresh.calls == [(TENANT, ANN)]


def _event_item(status: str, attempts: int = 0) -> dict[str, object]:
    return {
        "pk": f"T#{TENANT}#EVENT#evt_1",
        "sk": "EVENT",
        "entity": "segment_event",
        "tenant_id": TENANT,
        "event_id": "evt_1",
        "status": status,
        "attempts": attempts,
    }


class FakeQueue:
    def __init__(self) -> None:
        self.messages: list[tuple[TenantId, str]] = []

    def __call__(self, tenant: TenantId, event_id: str) -> None:
        self.messages.append((tenant, event_id))


def test_a_new_or_replayed_event_is_queued_once_and_attempts_queue_nothing() -> None:
    # Given a new pending event, an attempt's bookkeeping (pending to pending), its failure,
    # a replay (failed to pending) and a delivery
    builder = StreamEventBuilder()
    builder.insert(_event_item("pending"))
    builder.modify(_event_item("pending"), _event_item("pending", attempts=1))
    builder.modify(_event_item("pending", attempts=1), _event_item("failed", attempts=2))
    builder.modify(_event_item("failed", attempts=2), _event_item("pending", attempts=2))
    builder.modify(_event_item("pending", attempts=2), _event_item("delivered", attempts=3))
    queue = FakeQueue()
    # When the batch is handled (no receiver exists here: the handler has no sender at all)
    answer = process_batch(builder.build(), None, FakeRefresh(), queue)
    # Then the event was queued twice: when it appeared and when it was replayed
    assert answer == {"batchItemFailures": []}
    assert queue.messages == [(TENANT, "evt_1"), (TENANT, "evt_1")]


def _feedback(customer: str, n: int, nps: int) -> dict[str, object]:
    return {**_interaction(customer, n, details=f'{{"nps": {nps}}}'), "type": "feedback"}


def test_new_feedback_answers_are_counted_and_their_changes_are_not() -> None:
    # Given a batch with a new answer, a change of an older one and a new purchase
    builder = StreamEventBuilder()
    builder.insert(_feedback(ANN, 1, 9))
    builder.modify(_feedback(BOB, 2, 3), _feedback(BOB, 2, 3))
    builder.insert(_interaction(BOB, 3))
    counted: list[str] = []
    # When it is processed
    answer = process_batch(
        builder.build(),
        None,
        FakeRefresh(),
        count_feedback=lambda image: counted.append(image.interaction_id),
    )
    # Then only the new answer was counted
    assert answer == {"batchItemFailures": []}
    assert counted == ["int_1"]


def test_a_failed_count_fails_its_record_for_redelivery() -> None:
    builder = StreamEventBuilder()
    builder.insert(_feedback(ANN, 1, 9))
    builder.insert(_interaction(BOB, 2))

    def failing(image: object) -> None:
        raise RuntimeError("DynamoDB said no")

    answer = process_batch(builder.build(), None, FakeRefresh(), count_feedback=failing)

    assert answer == {"batchItemFailures": [{"itemIdentifier": builder.sequence_numbers()[0]}]}
