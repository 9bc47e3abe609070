"""The webhook queue's consumer: one delivery attempt per message per receive.

A message names a tenant and an event (the data stream consumer queued it). The event is
read afresh, so a redelivered message of a delivered event sends nothing. A failed attempt
is retried later: the message's visibility is set to the backoff for its receive count
(ApproximateReceiveCount) and the record is reported as failed, so SQS shows it again
then; no attempt sleeps in the function (an attempt that crashes is retried the same way).
The last receive (the queue's
`max_receive_count`) lists the event as failed (GET /v1/events/failed); a message that
cannot be handled even then goes to the dead-letter queue, whose consumer
(`record_undelivered_webhooks`) lists its event as failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.queues_config import WEBHOOK_QUEUE, QueueConsumer

DeliverOnce = Callable[[TenantId, str, bool], bool]
"""(tenant, event id, last attempt) → True when the message is done with."""
RetryLater = Callable[[str, int], object]
"""(receipt handle, seconds) → makes the message visible again after that delay."""


class DeliveryRetry(Exception):
    """The attempt failed and the message is kept for a later receive."""


@dataclass
class WebhookQueueBatch:
    deliver: DeliverOnce
    retry_later: RetryLater
    first_delay_seconds: int
    queue: QueueConsumer = WEBHOOK_QUEUE

    def handle(self, record: SQSRecord) -> None:
        from chalicelib.services.segment_events import DeliveryRequest

        request = DeliveryRequest.model_validate_json(record.body)
        receives = int(record.attributes.approximate_receive_count or 1)
        last_attempt = receives >= self.queue.max_receive_count
        delay = self.queue.retry_delay_seconds(receives, self.first_delay_seconds)
        try:
            done = self.deliver(tenant_id(request.tenant_id), request.event_id, last_attempt)
        except Exception:
            self.retry_later(record.receipt_handle, delay)
            raise
        if done:
            return
        self.retry_later(record.receipt_handle, delay)
        raise DeliveryRetry(f"event {request.event_id}: attempt {receives} failed")


def process_batch(
    event: dict[str, Any],
    context: LambdaContext | None,
    batch: WebhookQueueBatch | DeadLetterBatch,
) -> PartialItemFailureResponse:
    """Powertools' partial-batch processing of SQS records: failed records are reported by
    message id (and come back after their visibility timeout), the rest are deleted."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=batch.handle, processor=processor, context=context
    )


def _service_retry_later(receipt_handle: str, seconds: int) -> object:
    from chalicelib.services import segment_events

    segment_events.retry_delivery_later(receipt_handle, seconds)
    return None


def _service_deliver(tenant: TenantId, event_id: str, last_attempt: bool) -> bool:
    from chalicelib.services import segment_events

    return segment_events.deliver(tenant, event_id, last_attempt)


def deliver_webhooks(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler (registered in app.py): `event` is Chalice's SQSEvent."""
    from chalicelib.dal.attribution import system_writer, writing_as
    from chalicelib.settings import get_settings

    batch = WebhookQueueBatch(
        _service_deliver, _service_retry_later, get_settings().webhook_backoff_seconds
    )
    with writing_as(system_writer("deliver_webhooks", event)):
        return process_batch(event.to_dict(), getattr(event, "context", None), batch)


RecordUndeliverable = Callable[[TenantId, str], object]


@dataclass
class DeadLetterBatch:
    """The dead-letter queue's records: each one's event is listed as failed."""

    record_undeliverable: RecordUndeliverable

    def handle(self, record: SQSRecord) -> None:
        from chalicelib.services.segment_events import DeliveryRequest

        request = DeliveryRequest.model_validate_json(record.body)
        self.record_undeliverable(tenant_id(request.tenant_id), request.event_id)


def _service_record_undeliverable(tenant: TenantId, event_id: str) -> object:
    from chalicelib.services import segment_events

    segment_events.record_undeliverable(tenant, event_id)
    return None


def record_undelivered_webhooks(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler of the webhook dead-letter queue (registered in app.py)."""
    from chalicelib.dal.attribution import system_writer, writing_as

    batch = DeadLetterBatch(_service_record_undeliverable)
    with writing_as(system_writer("record_undelivered_webhooks", event)):
        return process_batch(event.to_dict(), getattr(event, "context", None), batch)
