"""The webhook queue's record handling with fakes: one attempt per receive, backoff by
receive count through the message's visibility, the last receive, partial failures."""

from __future__ import annotations

import json
import uuid
from typing import Any

from chalicelib.domain.tenancy import TenantId
from chalicelib.queues_config import WEBHOOK_QUEUE
from chalicelib.streams.webhook_queue import WebhookQueueBatch, process_batch

TENANT = "ten_01M81Y3CBPRNGM9WHT0MQZ3JPG"


def sqs_record(event_id: str, receive_count: int) -> dict[str, Any]:
    message_id = str(uuid.uuid4())
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps({"tenant_id": TENANT, "event_id": event_id}),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "MessageGroupId": TENANT},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:webhook-deliveries",
        "awsRegion": "us-east-1",
    }


class FakeDelivery:
    """Answers "done" for the event ids in `succeeding`; records every attempt."""

    def __init__(self, succeeding: set[str]) -> None:
        self.succeeding = succeeding
        self.attempts: list[tuple[TenantId, str, bool]] = []

    def __call__(self, tenant: TenantId, event_id: str, last_attempt: bool) -> bool:
        self.attempts.append((tenant, event_id, last_attempt))
        return event_id in self.succeeding or last_attempt


class FakeVisibility:
    def __init__(self) -> None:
        self.changes: list[tuple[str, int]] = []

    def __call__(self, receipt_handle: str, seconds: int) -> None:
        self.changes.append((receipt_handle, seconds))


def test_a_failed_attempt_is_retried_later_with_exponential_backoff() -> None:
    # Given a batch of a deliverable event and one whose receiver fails, on its third receive
    ok, failing = sqs_record("evt_ok", 1), sqs_record("evt_failing", 3)
    delivery, visibility = FakeDelivery({"evt_ok"}), FakeVisibility()
    batch = WebhookQueueBatch(delivery, visibility, first_delay_seconds=30)
    # When it is handled
    answer = process_batch({"Records": [ok, failing]}, None, batch)
    # Then each was attempted once, only the failing one is reported and hidden 30 s * 2**2
    assert [a[1] for a in delivery.attempts] == ["evt_ok", "evt_failing"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": failing["messageId"]}]}
    assert visibility.changes == [(failing["receiptHandle"], 120)]


def test_the_last_receive_is_the_last_attempt_and_ends_the_message() -> None:
    # Given a failing event on the queue's last receive
    last = sqs_record("evt_failing", WEBHOOK_QUEUE.max_receive_count)
    delivery, visibility = FakeDelivery(set()), FakeVisibility()
    batch = WebhookQueueBatch(delivery, visibility, first_delay_seconds=30)
    # When it is handled
    answer = process_batch({"Records": [last]}, None, batch)
    # Then the delivery knew it was the last attempt and the message is done with
    assert delivery.attempts == [(TENANT, "evt_failing", True)]
    assert answer == {"batchItemFailures": []} and visibility.changes == []


def test_backoff_is_capped() -> None:
    assert WEBHOOK_QUEUE.retry_delay_seconds(1, 30) == 30
    assert WEBHOOK_QUEUE.retry_delay_seconds(2, 30) == 60
    assert WEBHOOK_QUEUE.retry_delay_seconds(20, 30) == WEBHOOK_QUEUE.max_backoff_seconds


def test_a_malformed_message_fails_alone() -> None:
    good = sqs_record("evt_ok", 1)
    bad = {**sqs_record("evt_x", 1), "body": '{"tenant_id": "nobody"}'}
    delivery = FakeDelivery({"evt_ok"})
    batch = WebhookQueueBatch(delivery, FakeVisibility(), first_delay_seconds=30)

    answer = process_batch({"Records": [good, bad]}, None, batch)

    assert answer == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert [a[1] for a in delivery.attempts] == ["evt_ok"]


def test_every_dead_letter_names_its_event_and_a_malformed_one_fails() -> None:
    from chalicelib.streams.webhook_queue import DeadLetterBatch, process_batch

    # Given two dead letters, one of them unreadable
    good = sqs_record("evt_dead", 6)
    bad = {**sqs_record("evt_x", 6), "body": "not json"}
    recorded: list[tuple[TenantId, str]] = []
    batch = DeadLetterBatch(lambda tenant, event_id: recorded.append((tenant, event_id)))
    # When they are handled
    answer = process_batch({"Records": [good, bad]}, None, batch)
    # Then the readable one's event was recorded and the other stays (reported as failed)
    assert recorded == [(TENANT, "evt_dead")]
    assert answer == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}


def test_a_crashing_attempt_is_retried_with_the_same_backoff() -> None:
    # Given a delivery that crashes (DynamoDB unavailable, say) on a second receive
    record = sqs_record("evt_crash", 2)
    visibility = FakeVisibility()

    def crash(tenant: TenantId, event_id: str, last_attempt: bool) -> bool:
        raise RuntimeError("DynamoDB said no")

    batch = WebhookQueueBatch(crash, visibility, first_delay_seconds=30)
    # When it is handled
    answer = process_batch({"Records": [record]}, None, batch)
    # Then it is reported and shown again after the backoff for its receive
    assert answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert visibility.changes == [(record["receiptHandle"], 60)]
