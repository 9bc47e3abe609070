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
from typing import TYPE_CHECKING, Any

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

from chalicelib.dal.keys import PROFILE_SK
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.streams import import_queue
from chalicelib.streams.feedback import is_new_feedback
from chalicelib.streams.records import (
    InteractionImage,
    ItemImage,
    SegmentEventImage,
    customer_change,
    parse_image,
)

if TYPE_CHECKING:
    from chalicelib.services.segments import TenantRules

CustomerKey = tuple[str, str]
TenantRulesCache = dict[TenantId, "TenantRules"]
Refresh = Callable[[TenantId, str], object]
Reaction = Callable[[DynamoDBRecord, ItemImage, dict[str, Any]], bool]
"""Another feature's reaction to a record; True when the record needs nothing more."""
EventEnqueue = Callable[[TenantId, str], object]
"""Queues a pending event for the webhook queue's consumer: this consumer never makes an
HTTP call, so its time per batch does not depend on any receiver."""
FeedbackCount = Callable[[InteractionImage], object]
"""Adds a new feedback answer to its segments' and campaign's NPS counters, once."""
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
    match: Refresh | None = None
    """Duplicate detection's refresh, run for records of a customer's profile item."""
    react: Reaction | None = None
    count_feedback: FeedbackCount | None = None
    done: dict[CustomerKey, BaseException | None] = field(default_factory=dict)
    matched: dict[CustomerKey, BaseException | None] = field(default_factory=dict)
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
        if self.react is not None and self.react(record, image, raw or {}):
            return
        if isinstance(image, SegmentEventImage):
            if self.enqueue is not None and _newly_pending(record, image, removed):
                self.enqueue(tenant_id(image.tenant_id), image.event_id)
            return
        if self.count_feedback is not None and is_new_feedback(image, record):
            self.count_feedback(image)
        change = customer_change(image)
        if change is None:
            return
        key = (change.tenant_id, change.customer_id)
        _once_per_batch(self.done, key, self.refresh)
        if self.match is not None and image.sk == PROFILE_SK:
            _once_per_batch(self.matched, key, self.match)


def _once_per_batch(
    done: dict[CustomerKey, BaseException | None], key: CustomerKey, action: Refresh
) -> None:
    """Runs `action` for the customer once per batch; a later record of a customer whose
    run failed fails too (so the retry covers every one of them)."""
    if key in done:
        failure = done[key]
        if failure is not None:
            raise RuntimeError(f"customer {key[1]} failed earlier in this batch") from failure
        return
    try:
        action(tenant_id(key[0]), key[1])
    except BaseException as error:
        done[key] = error
        raise
    done[key] = None


def process_batch(
    event: dict[str, Any],
    context: LambdaContext | None,
    refresh: Refresh,
    enqueue: EventEnqueue | None = None,
    match: Refresh | None = None,
    react: Reaction | None = None,
    count_feedback: FeedbackCount | None = None,
    import_chunks: ImportChunkSender | None = None,
) -> PartialItemFailureResponse:
    """Powertools' partial-batch processing: failed records are reported by sequence
    number, the rest count as done."""
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    batch = DataStreamBatch(
        refresh, enqueue, match, react, count_feedback, import_chunks=import_chunks
    )
    return process_partial_response(
        event=event,
        record_handler=batch.handle,
        processor=processor,
        context=context,
    )


def _service_refresh(today: date, rules: TenantRulesCache | None = None) -> Refresh:
    """The real refresh: tenant rules read once per tenant per batch (into `rules`)."""
    from chalicelib.services import segment_events, segments

    rules = {} if rules is None else rules

    def refresh(tenant: TenantId, customer_id: str) -> object:
        if tenant not in rules:
            rules[tenant] = segments.tenant_rules(tenant)
        events = segment_events.event_writer(rules[tenant].config)
        return segments.refresh_customer(tenant, customer_id, rules[tenant], today, events=events)

    return refresh


def _service_match(rules: TenantRulesCache) -> Refresh:
    """Duplicate detection's refresh; skipped for a deleted tenant (its purge is running),
    known from the rules the segment refresh read for the same record."""
    from chalicelib.services import duplicates, segments

    def match(tenant: TenantId, customer_id: str) -> object:
        if tenant not in rules:
            rules[tenant] = segments.tenant_rules(tenant)
        if not rules[tenant].live:
            return None
        return duplicates.refresh_matches(tenant, customer_id)

    return match


def _service_enqueue(tenant: TenantId, event_id: str) -> object:
    from chalicelib.services import segment_events

    segment_events.enqueue_delivery(tenant, event_id)
    return None


def keep_customers_current(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler (registered in app.py): `event` is Chalice's DynamoDBEvent."""
    from chalicelib.dal.attribution import system_writer, writing_as
    from chalicelib.domain.clock import utc_now
    from chalicelib.streams import campaigns
    from chalicelib.streams.feedback import count_feedback

    raw = event.to_dict()
    context = getattr(event, "context", None)
    rules: TenantRulesCache = {}
    refresh = _service_refresh(utc_now().date(), rules)
    with writing_as(system_writer("keep_customers_current", event)):
        return process_batch(
            raw,
            context,
            refresh,
            _service_enqueue,
            match=_service_match(rules),
            react=campaigns.react,
            count_feedback=count_feedback,
            import_chunks=import_queue.send_chunk_request,
        )
