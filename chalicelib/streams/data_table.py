"""The data table's stream consumer: keeps each changed customer's metrics and segment
memberships current and queues pending segment events for the webhook queue's consumer
(it never calls a receiver itself). It is the one reader of the data stream besides the
audit trail's (docs/streams.md).

Per batch, each affected customer is refreshed once, from its partition as it is now
(consistent Query), never from the record itself: redelivery, reordering and the records
of one transaction arriving in different batches all converge on the same state, and a
batch whose records change nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.streams import import_queue
from chalicelib.streams.records import SegmentEventImage, customer_change, parse_image

CustomerKey = tuple[str, str]
Refresh = Callable[[TenantId, str], object]
EventEnqueue = Callable[[TenantId, str], object]
"""Queues a pending event for the webhook queue's consumer: this consumer never makes an
HTTP call, so its time per batch does not depend on any receiver."""
ImportChunkSender = Callable[[import_queue.ChunkRequest], object]


def _newly_pending(record: DynamoDBRecord, image: SegmentEventImage, removed: bool) -> bool:
    """A new pending event, or one put back to pending (a replay): queued once each. An
    attempt that leaves it pending (retries) changes nothing here."""
    if removed or image.status != "pending":
        return False
    old = record.dynamodb.old_image if record.dynamodb is not None else None
    if record.event_name is DynamoDBRecordEventName.INSERT or not old:
        return True
    before = parse_image(old)
    return not (isinstance(before, SegmentEventImage) and before.status == "pending")


@dataclass
class DataStreamBatch:
    """One batch's record handler: refreshes each customer at most once per batch and
    fails every record of a customer whose refresh failed (so all are retried)."""

    refresh: Refresh
    enqueue: EventEnqueue | None = None
    done: dict[CustomerKey, BaseException | None] = field(default_factory=dict)
    import_chunks: ImportChunkSender | None = None

    def handle(self, record: DynamoDBRecord) -> None:
        stream = record.dynamodb
        if stream is None:
            raise ValueError("a stream record without its dynamodb section")
        if import_queue.is_import_record(record):
            request = import_queue.chunk_due(record)
            if request is not None and self.import_chunks is not None:
                self.import_chunks(request)
            return
        removed = record.event_name is DynamoDBRecordEventName.REMOVE
        raw = stream.old_image if removed else stream.new_image
        image = parse_image(raw or stream.keys)
        if isinstance(image, SegmentEventImage):
            if self.enqueue is not None and _newly_pending(record, image, removed):
                self.enqueue(tenant_id(image.tenant_id), image.event_id)
            return
        change = customer_change(image)
        if change is None:
            return
        key = (change.tenant_id, change.customer_id)
        if key in self.done:
            failure = self.done[key]
            if failure is not None:
                raise RuntimeError(f"customer {key[1]} failed earlier in this batch") from failure
            return
        try:
            self.refresh(tenant_id(change.tenant_id), change.customer_id)
        except BaseException as error:
            self.done[key] = error
            raise
        self.done[key] = None


def process_batch(
    event: dict[str, Any],
    context: LambdaContext | None,
    refresh: Refresh,
    enqueue: EventEnqueue | None = None,
    import_chunks: ImportChunkSender | None = None,
) -> PartialItemFailureResponse:
    """Powertools' partial-batch processing: failed records are reported by sequence
    number, the rest count as done."""
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    batch = DataStreamBatch(refresh, enqueue, import_chunks=import_chunks)
    return process_partial_response(
        event=event,
        record_handler=batch.handle,
        processor=processor,
        context=context,
    )


def _service_refresh(today: date) -> Refresh:
    """The real refresh: tenant rules read once per tenant per batch."""
    from chalicelib.services import segment_events, segments

    rules: dict[TenantId, segments.TenantRules] = {}

    def refresh(tenant: TenantId, customer_id: str) -> object:
        if tenant not in rules:
            rules[tenant] = segments.tenant_rules(tenant)
        events = segment_events.event_writer(rules[tenant].config)
        return segments.refresh_customer(tenant, customer_id, rules[tenant], today, events=events)

    return refresh


def _service_enqueue(tenant: TenantId, event_id: str) -> object:
    from chalicelib.services import segment_events

    segment_events.enqueue_delivery(tenant, event_id)
    return None


def keep_customers_current(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler (registered in app.py): `event` is Chalice's DynamoDBEvent."""
    from chalicelib.dal.attribution import system_writer, writing_as
    from chalicelib.domain.clock import utc_now

    raw = event.to_dict()
    context = getattr(event, "context", None)
    refresh = _service_refresh(utc_now().date())
    with writing_as(system_writer("keep_customers_current", event)):
        return process_batch(
            raw, context, refresh, _service_enqueue, import_queue.send_chunk_request
        )
