"""How SQS queue consumers read their queues: the one place for these settings, read by
app.py (batch size), infra/ (the queue, its dead-letter queue, the event source mapping and
the alarm) and the local runner (devtools/stream_runner.py), so a consumer behaves the same
on moto's in-process SQS as in AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SQS_BATCH_SIZE = 10  # without a batching window
SEND_MESSAGE_BATCH = 10  # SendMessageBatch's most entries
MAX_VISIBILITY_SECONDS = 43_200
MAX_RECEIVE_COUNT = 1_000


@dataclass(frozen=True)
class QueueConsumer:
    """A Chalice SQS handler (by its function name) and its queue.

    `queue_url_variable` is the environment variable that carries the queue's URL to the
    functions that send to it. A message is received at most `max_receive_count` times:
    the consumer treats that receive as the last attempt, and a message it could not
    handle even then is moved to the dead-letter queue by the redrive policy.
    """

    handler: str
    queue_name: str
    queue_url_variable: str
    dead_letters_of: str | None = None
    """The `queue_name` of another consumer whose dead-letter queue this one reads (it then
    has no queue of its own and no redrive)."""
    batch_size: int = MAX_SQS_BATCH_SIZE
    visibility_timeout_seconds: int = 60
    max_receive_count: int = 5
    max_backoff_seconds: int = 900
    retention_seconds: int = 345_600  # 4 days
    dead_letter_retention_seconds: int = 1_209_600  # 14 days, SQS's maximum
    dead_letter_alarm_threshold: int = 1

    def __post_init__(self) -> None:
        checks = {
            "batch_size": 1 <= self.batch_size <= MAX_SQS_BATCH_SIZE,
            "visibility_timeout_seconds": 0
            <= self.visibility_timeout_seconds
            <= MAX_VISIBILITY_SECONDS,
            "max_receive_count": 1 <= self.max_receive_count <= MAX_RECEIVE_COUNT,
            "max_backoff_seconds": 0 <= self.max_backoff_seconds <= MAX_VISIBILITY_SECONDS,
            "dead_letter_alarm_threshold": self.dead_letter_alarm_threshold >= 1,
        }
        out_of_range = [name for name, ok in checks.items() if not ok]
        if out_of_range:
            raise ValueError(f"queue consumer settings out of range: {', '.join(out_of_range)}")

    def retry_delay_seconds(self, receive_count: int, first_delay_seconds: int) -> int:
        """Exponential backoff by receive: first delay, then doubled, capped."""
        exponent = max(0, receive_count - 1)
        return min(first_delay_seconds * 2**exponent, self.max_backoff_seconds)


def queue_placeholder(queue_name: str) -> str:
    """What a handler passes as `queue` to `@app.on_sqs_message`: the logical queue name.
    infra/ binds the handler to the queue it creates for the `QueueConsumer` of that name."""
    return queue_name


# Webhook deliveries: one message per pending segment or audit event (docs/streams.md).
WEBHOOK_QUEUE = QueueConsumer(
    handler="deliver_webhooks",
    queue_name="webhook-deliveries",
    queue_url_variable="WEBHOOK_QUEUE_URL",
    batch_size=10,
    visibility_timeout_seconds=60,
    max_receive_count=5,
)

# What reaches the webhook queue's dead-letter queue (messages the delivery function could
# not handle in any receive): their events are listed as failed, so they can be replayed.
WEBHOOK_DEAD_LETTERS = QueueConsumer(
    handler="record_undelivered_webhooks",
    queue_name=f"{WEBHOOK_QUEUE.queue_name}-dlq",
    queue_url_variable="WEBHOOK_DEAD_LETTER_QUEUE_URL",
    dead_letters_of=WEBHOOK_QUEUE.queue_name,
    batch_size=10,
)

# Bulk imports (issue 16): one message per chunk of an import's file, sent by the data
# stream consumer when the import's checkpoint moves (docs/streams.md, "Bulk import").
# A chunk is bounded (chalicelib/domain/imports.py), well within the visibility timeout.
IMPORT_QUEUE = QueueConsumer(
    handler="process_imports",
    queue_name="import-chunks",
    queue_url_variable="IMPORT_QUEUE_URL",
    batch_size=1,
    visibility_timeout_seconds=300,
    max_receive_count=5,
)

# Customer merges (issue 16): a merge the request could not finish within its budget goes
# on here, one message per merge naming its record; each receive runs a bounded share of
# the steps (chalicelib/domain/merge.py, CONTINUATION_BUDGET) and sends the next message.
MERGE_QUEUE = QueueConsumer(
    handler="continue_merges",
    queue_name="merge-continuations",
    queue_url_variable="MERGE_QUEUE_URL",
    batch_size=1,
    visibility_timeout_seconds=300,
    max_receive_count=5,
)

# Campaign launches (issue 15): the campaign job walks the audience's membership pages and
# queues one message per page (its member ids); the workers send to them
# (docs/streams.md, "Campaign sends"). A page is 100 recipients, one transaction each.
CAMPAIGN_SEND_QUEUE = QueueConsumer(
    handler="send_campaign_pages",
    queue_name="campaign-sends",
    queue_url_variable="CAMPAIGN_SEND_QUEUE_URL",
    batch_size=5,
    visibility_timeout_seconds=300,
    max_receive_count=5,
)

# Audit heartbeats (docs/security.md, "Audit trail"): every digest period the schedule
# pages through the tenants and queues one message per page of tenant ids; the consumer
# appends a heartbeat to each of its tenants' chains that is due (signing it with the chain
# key). A page is 100 tenants, a few DynamoDB calls and one KMS Sign each: seconds, well
# within the visibility timeout. A page older than an hour is superseded by the next
# periods' pages, so messages are kept one hour: longer than the 5 receives take to reach
# the dead-letter queue deployed (5 x 360 s of visibility).
AUDIT_HEARTBEAT_QUEUE = QueueConsumer(
    handler="append_audit_heartbeats",
    queue_name="audit-heartbeats",
    queue_url_variable="AUDIT_HEARTBEAT_QUEUE_URL",
    batch_size=1,
    visibility_timeout_seconds=60,
    max_receive_count=5,
    retention_seconds=3_600,
)

QUEUE_CONSUMERS: dict[str, QueueConsumer] = {
    consumer.handler: consumer
    for consumer in (
        WEBHOOK_QUEUE,
        WEBHOOK_DEAD_LETTERS,
        IMPORT_QUEUE,
        MERGE_QUEUE,
        CAMPAIGN_SEND_QUEUE,
        AUDIT_HEARTBEAT_QUEUE,
    )
}


def queue_consumer_for(handler: str) -> QueueConsumer | None:
    return QUEUE_CONSUMERS.get(handler)
