"""How DynamoDB stream consumers read their streams: the one place for these settings.

The deployed event source mappings (infra/) and the local stream runner both read this
module, so a consumer behaves the same on DynamoDB Local as in AWS. Chalice's
`on_dynamodb_record` decorator exposes only the batch size and starting position; the rest
(partial-batch failures, bisect, retries, record age, on-failure queue) is set by infra/
from the values here.

A stream consumer is a Chalice event handler registered with `@app.on_dynamodb_record`. To
add one, register the handler and add a `StreamConsumer` for it to `STREAM_CONSUMERS`: the
infrastructure refuses to synthesise a stream handler that has no entry here, and an entry
whose handler does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# The limits DynamoDB Streams event source mappings accept, narrowed where "unbounded" (-1)
# would let a poison record block a shard for a day.
MAX_BATCH_SIZE = 10_000
MAX_RETRY_ATTEMPTS = 10_000
MIN_RECORD_AGE_SECONDS = 60
MAX_RECORD_AGE_SECONDS = 604_800
MAX_PARALLELIZATION_FACTOR = 10
MAX_BATCHING_WINDOW_SECONDS = 300


AUDIT_DIGEST_PERIOD_MINUTES = 5
"""The rate of the audit chain's digest schedule (`audit_heartbeats` in app.py), which
appends a digest to every tenant's chain beside the audit stream's consumer;
AUDIT_DIGEST_PERIOD_SECONDS tells verification what to expect."""


class StartingPosition(StrEnum):
    TRIM_HORIZON = "TRIM_HORIZON"
    LATEST = "LATEST"


@dataclass(frozen=True)
class StreamConsumerSettings:
    """How one consumer reads a stream: batching, retries and when to give up on a batch.

    Partial-batch responses (`ReportBatchItemFailures`) are always on: handlers use
    Powertools' `BatchProcessor` and report the records they failed, so one bad record is
    retried (and, after bisecting, sent to the on-failure queue) without replaying the rest.
    """

    batch_size: int = 100
    maximum_batching_window_seconds: int = 1
    maximum_retry_attempts: int = 5
    bisect_batch_on_function_error: bool = True
    maximum_record_age_seconds: int = 3_600
    parallelization_factor: int = 1
    starting_position: StartingPosition = StartingPosition.TRIM_HORIZON
    report_batch_item_failures: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        checks = {
            "batch_size": 1 <= self.batch_size <= MAX_BATCH_SIZE,
            "maximum_batching_window_seconds": (
                0 <= self.maximum_batching_window_seconds <= MAX_BATCHING_WINDOW_SECONDS
            ),
            "maximum_retry_attempts": 0 <= self.maximum_retry_attempts <= MAX_RETRY_ATTEMPTS,
            "maximum_record_age_seconds": (
                MIN_RECORD_AGE_SECONDS <= self.maximum_record_age_seconds <= MAX_RECORD_AGE_SECONDS
            ),
            "parallelization_factor": (
                1 <= self.parallelization_factor <= MAX_PARALLELIZATION_FACTOR
            ),
        }
        out_of_range = [name for name, ok in checks.items() if not ok]
        if out_of_range:
            raise ValueError(f"stream consumer settings out of range: {', '.join(out_of_range)}")


@dataclass(frozen=True)
class OnFailureQueueSettings:
    """The SQS queue that receives a description of each batch a consumer gave up on.

    Lambda sends the shard, sequence numbers and reason, not the records themselves: a
    redrive reads the records from the stream (within its 24 hours) or from the table.
    """

    retention_seconds: int = 1_209_600  # 14 days, SQS's maximum
    alarm_threshold_messages: int = 1

    def __post_init__(self) -> None:
        if not 60 <= self.retention_seconds <= 1_209_600:
            raise ValueError("on-failure queue retention must be within 60 s and 14 days")
        if self.alarm_threshold_messages < 1:
            raise ValueError("the on-failure queue alarm needs a threshold of at least 1")


@dataclass(frozen=True)
class StreamConsumer:
    """A Chalice stream handler (by its function name) and the table whose stream it reads.

    `table` is a `TableSpec.logical_name` from chalicelib.dal.schema ("Control", "Data").
    """

    handler: str
    table: str
    settings: StreamConsumerSettings = field(default_factory=StreamConsumerSettings)
    iterator_age_alarm_seconds: int = 300


def stream_arn_placeholder(table: str) -> str:
    """What a handler passes as `stream_arn` to `@app.on_dynamodb_record`.

    Chalice reads the ARN when app.py is imported, before any table exists; infra/ replaces
    this placeholder with the deployed table's stream ARN (and checks that the table named
    here is the one in the handler's `StreamConsumer`), and the local runner reads `table`.
    """
    return f"arn:aws:dynamodb:us-east-1:000000000000:table/{table}/stream/set-by-infra"


ON_FAILURE_QUEUE = OnFailureQueueSettings()

# The data table's stream has two readers at most (a DynamoDB Streams limit): this one,
# which keeps metrics and segments and delivers segment events, and the audit trail's.
DATA_STREAM = StreamConsumer(
    "keep_customers_current",
    "Data",
    StreamConsumerSettings(batch_size=100, maximum_retry_attempts=5),
)

# The data table's second reader: turns each change of audited data into an audit entry.
AUDIT_CHANGES = StreamConsumer(
    "record_data_changes",
    "Data",
    StreamConsumerSettings(batch_size=100, maximum_retry_attempts=5),
)

# The audit table's one reader: chains new entries into digests, writes the mentions of
# entries naming several customers and raises alerts.
AUDIT_STREAM = StreamConsumer(
    "chain_audit_trail",
    "Audit",
    StreamConsumerSettings(batch_size=500, maximum_retry_attempts=10),
)

# Keyed by handler name.
STREAM_CONSUMERS: dict[str, StreamConsumer] = {
    consumer.handler: consumer for consumer in (DATA_STREAM, AUDIT_CHANGES, AUDIT_STREAM)
}


def consumer_for(handler: str) -> StreamConsumer | None:
    return STREAM_CONSUMERS.get(handler)
