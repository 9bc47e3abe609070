"""Runs the app's DynamoDB stream handlers locally, as Lambda's event source mappings do.

For every `@app.on_dynamodb_record` handler in app.py it reads its table's stream on
DynamoDB Local (or moto): every shard, a child shard only after its parent is finished
(shard splits), batches of the consumer's `batch_size` (chalicelib/streams_config.py),
Lambda-shaped events, the handler's partial-batch answer (`batchItemFailures`: retried
from the first failed record, as Lambda does) and `maximum_retry_attempts`. Records that
exhaust their retries are appended to `stream-failures.jsonl` under LOCAL_DIR (the local
stand-in for the on-failure queue) and the shard moves on.

It also runs every `@app.on_sqs_message` handler (chalicelib/queues_config.py) when given
an SQS client (moto's in-process SQS locally: `local_queues` creates each queue with its
dead-letter queue and redrive policy): it receives up to the consumer's `batch_size`
messages, invokes the handler with a Lambda-shaped SQS event and deletes the messages the
handler did not report as failed, as Lambda's event source mapping does. A failed message
is shown again when its visibility timeout (set by the handler's backoff) runs out.

After every round it writes `streams.json` under LOCAL_DIR; `drained_since` is the start
of the latest round that found no record anywhere, so a test that wrote at time t waits
for `drained_since > t` (see `wait_until_drained`).

With a LOCAL_DIR it keeps each stream consumer's position in every shard (the sequence
number of the last record its handler is done with) in `stream-positions.json`, written
after each invocation, so a new runner over the same DynamoDB Local data resumes there
(`AFTER_SEQUENCE_NUMBER`) instead of replaying the stream from its starting position.

`round()` and `drain()` poll every consumer in turn on the caller's thread (tests get
deterministic rounds). `start()` polls as Lambda's event source mappings do, independently:
one thread per stream consumer, and one for the queue consumers together (moto's
in-process SQS is not built for many threads).
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError
from chalice.app import DynamoDBEventConfig, SQSEventConfig

from chalicelib.dal.schema import ALL_TABLES
from chalicelib.queues_config import QUEUE_CONSUMERS, QueueConsumer, queue_consumer_for
from chalicelib.streams_config import StreamConsumerSettings, consumer_for

PROGRESS_FILE = "streams.json"
FAILURES_FILE = "stream-failures.jsonl"
POSITIONS_FILE = "stream-positions.json"

# What GetShardIterator answers for a position it cannot resume from: AWS says
# TrimmedDataAccessException once the records are past the 24-hour retention; DynamoDB
# Local answers InternalFailure for a sequence number beyond the shard's last record.
_UNUSABLE_POSITION_ERRORS = frozenset({"TrimmedDataAccessException", "InternalFailure"})


@dataclass
class _Context:
    """What Lambda passes as `context`, enough for Powertools and the jobs."""

    function_name: str
    deadline: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class _Shard:
    shard_id: str
    parent: str | None
    iterator: str | None = None
    finished: bool = False
    last_sequence: str | None = None


@dataclass
class _Consumer:
    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    table: str
    settings: StreamConsumerSettings
    stream_arn: str | None = None
    shards: dict[str, _Shard] = field(default_factory=dict)


@dataclass
class _QueueConsumer:
    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    queue_url: str
    settings: QueueConsumer


@dataclass
class _Lane:
    """What one background thread polls (`start`): a stream consumer's shards, or the
    queue consumers. `idle_since` is the start of its latest round that found nothing."""

    name: str
    poll: Callable[[], int]
    idle_since: float | None = None


def _write_atomically(target: Path, document: object) -> None:
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, target)


def _function_name(handler: str) -> str:
    """The deployed function's name for a handler (`keep_customers_current` →
    `KeepCustomersCurrent`), as infra names it."""
    return "".join(part.capitalize() for part in handler.split("_"))


def local_queues(sqs: Any) -> dict[str, str]:
    """Creates each consumer's queue and dead-letter queue (redrive after the consumer's
    `max_receive_count`) and answers the environment variables naming the queues (a
    consumer of another's dead letters is given that dead-letter queue)."""
    environment: dict[str, str] = {}
    dead_letter_urls: dict[str, str] = {}
    for consumer in QUEUE_CONSUMERS.values():
        if consumer.dead_letters_of is not None:
            continue
        dead_letters = sqs.create_queue(QueueName=f"{consumer.queue_name}-dlq")["QueueUrl"]
        dead_letter_arn = sqs.get_queue_attributes(
            QueueUrl=dead_letters, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        redrive = {
            "deadLetterTargetArn": dead_letter_arn,
            "maxReceiveCount": str(consumer.max_receive_count),
        }
        queue = sqs.create_queue(
            QueueName=consumer.queue_name,
            Attributes={
                "VisibilityTimeout": str(consumer.visibility_timeout_seconds),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        environment[consumer.queue_url_variable] = queue
        dead_letter_urls[consumer.queue_name] = dead_letters
    for consumer in QUEUE_CONSUMERS.values():
        if consumer.dead_letters_of is not None:
            environment[consumer.queue_url_variable] = dead_letter_urls[consumer.dead_letters_of]
    return environment


def _lambda_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _table_name(logical: str, environ: dict[str, str]) -> str:
    for spec in ALL_TABLES:
        if spec.logical_name == logical:
            return environ[spec.environment_variable]
    raise KeyError(f"no table {logical!r} in chalicelib/dal/schema.py")


def _logical_table(stream_arn: str) -> str:
    return stream_arn.split(":table/", 1)[1].split("/", 1)[0]


def _lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record.get("eventID", str(uuid.uuid4())),
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }


class LocalStreamRunner:
    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        local_dir: Path | None = None,
        app_module: str = "app",
        environ: dict[str, str] | None = None,
        sqs: Any | None = None,
        invocation_guard: Callable[[str], AbstractContextManager[object]] | None = None,
    ) -> None:
        """`invocation_guard(function)` wraps each handler invocation (the function's CDK
        name, such as `KeepCustomersCurrent`): tests check its DynamoDB calls there."""
        self._guard = invocation_guard or (lambda _function: nullcontext())
        self._dynamodb = dynamodb
        self._streams = streams
        self._local_dir = local_dir
        self._environ = environ if environ is not None else dict(os.environ)
        self._region = self._environ.get("AWS_DEFAULT_REGION", "us-east-1")
        # Guarded invocations run one at a time (a guard such as tests/support/grants.py
        # records the process's DynamoDB calls, which another thread's handler would join).
        self._guard_lock: AbstractContextManager[object] = (
            threading.Lock() if invocation_guard is not None else nullcontext()
        )
        self._lock = threading.Lock()  # counters, failures, the files under local_dir
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lanes: list[_Lane] = []
        self._last_delivery_end = 0.0
        self._positions = self._read_positions()
        self.failures: list[dict[str, Any]] = []
        self.records_processed = 0
        self.drained_since: float | None = None
        module = importlib.import_module(app_module)
        self._consumers = [
            self._consumer(module, config)
            for config in module.app.event_sources
            if isinstance(config, DynamoDBEventConfig)
        ]
        self._sqs = sqs
        self._queues = (
            [
                self._queue_consumer(module, config)
                for config in module.app.event_sources
                if isinstance(config, SQSEventConfig)
            ]
            if sqs is not None
            else []
        )

    def _queue_consumer(self, module: Any, config: SQSEventConfig) -> _QueueConsumer:
        settings = queue_consumer_for(config.name)
        if settings is None:
            raise KeyError(f"no QueueConsumer for {config.name!r} in chalicelib/queues_config.py")
        return _QueueConsumer(
            name=config.name,
            handler=getattr(module, config.handler_string.rsplit(".", 1)[-1]),
            queue_url=self._environ[settings.queue_url_variable],
            settings=settings,
        )

    def _consumer(self, module: Any, config: DynamoDBEventConfig) -> _Consumer:
        name = config.name
        settings = consumer_for(name)
        return _Consumer(
            name=name,
            handler=getattr(module, config.handler_string.rsplit(".", 1)[-1]),
            table=_table_name(_logical_table(config.stream_arn), self._environ),
            settings=settings.settings if settings else StreamConsumerSettings(),
        )

    @property
    def consumer_names(self) -> list[str]:
        return [consumer.name for consumer in self._consumers] + [q.name for q in self._queues]

    # Positions.

    def _read_positions(self) -> dict[str, dict[str, str]]:
        """`{consumer: {shard_id: last_sequence_number}}` a previous runner saved."""
        if self._local_dir is None:
            return {}
        try:
            saved = json.loads((self._local_dir / POSITIONS_FILE).read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as error:
            print(f"stream runner: ignoring unreadable {POSITIONS_FILE}: {error}", flush=True)
            return {}
        return {
            str(consumer): {str(shard): str(sequence) for shard, sequence in shards.items()}
            for consumer, shards in saved.items()
            if isinstance(shards, dict)
        }

    def _advance(self, consumer: _Consumer, shard: _Shard, sequence: str) -> None:
        """The consumer is done with the shard up to `sequence`: a restart resumes after it."""
        shard.last_sequence = sequence
        if self._local_dir is None:
            return
        with self._lock:
            self._positions.setdefault(consumer.name, {})[shard.shard_id] = sequence
            _write_atomically(self._local_dir / POSITIONS_FILE, self._positions)

    # Shards.

    def _discover(self, consumer: _Consumer) -> None:
        if consumer.stream_arn is None:
            table = self._dynamodb.describe_table(TableName=consumer.table)["Table"]
            consumer.stream_arn = table["LatestStreamArn"]
        start: str | None = None
        while True:
            arguments: dict[str, Any] = {"StreamArn": consumer.stream_arn}
            if start:
                arguments["ExclusiveStartShardId"] = start
            description = self._streams.describe_stream(**arguments)["StreamDescription"]
            saved = self._positions.get(consumer.name, {})
            for shard in description.get("Shards", []):
                shard_id = shard["ShardId"]
                if shard_id not in consumer.shards:
                    consumer.shards[shard_id] = _Shard(
                        shard_id, shard.get("ParentShardId"), last_sequence=saved.get(shard_id)
                    )
            start = description.get("LastEvaluatedShardId")
            if not start:
                return

    def _ready(self, consumer: _Consumer, shard: _Shard) -> bool:
        parent = consumer.shards.get(shard.parent) if shard.parent else None
        return not shard.finished and (parent is None or parent.finished)

    # Polling.

    def poll_once(self) -> int:
        """One round over every shard of every consumer; answers the records handled."""
        handled = sum(self._poll_consumer(consumer) for consumer in self._consumers)
        return handled + self._poll_queues()

    def _poll_consumer(self, consumer: _Consumer) -> int:
        """One round over a stream consumer's shards, each in sequence-number order."""
        self._discover(consumer)
        handled = 0
        for shard in list(consumer.shards.values()):
            if self._ready(consumer, shard):
                handled += self._poll_shard(consumer, shard)
        return handled

    def _poll_queues(self) -> int:
        return sum(self._poll_queue(queue) for queue in self._queues)

    def _poll_queue(self, queue: _QueueConsumer) -> int:
        """One receive, one invocation; the messages not reported as failed are deleted."""
        assert self._sqs is not None
        messages = self._sqs.receive_message(
            QueueUrl=queue.queue_url,
            MaxNumberOfMessages=queue.settings.batch_size,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return 0
        queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=queue.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        records = [_lambda_sqs_record(m, queue_arn, self._region) for m in messages]
        context = _Context(queue.name, time.monotonic() + 300)
        with self._guard_lock, self._guard(_function_name(queue.name)):
            try:
                answer = queue.handler({"Records": records}, context) or {}
                failed = {str(f["itemIdentifier"]) for f in answer.get("batchItemFailures", [])}
            except Exception as error:  # noqa: BLE001 - Lambda retries the whole batch
                print(f"queue handler {queue.name} failed: {error!r}", flush=True)
                failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=queue.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        self._count(len(messages))
        return len(messages)

    def _iterator(self, consumer: _Consumer, shard: _Shard) -> str:
        """Where to read: after the last record handled (this runner's or a saved
        position), else the starting position; from the oldest record kept when the
        position is no longer readable."""
        arguments: dict[str, Any] = {"StreamArn": consumer.stream_arn, "ShardId": shard.shard_id}
        if shard.last_sequence is None:
            arguments["ShardIteratorType"] = consumer.settings.starting_position.value
            return str(self._streams.get_shard_iterator(**arguments)["ShardIterator"])
        try:
            return str(
                self._streams.get_shard_iterator(
                    **arguments,
                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=shard.last_sequence,
                )["ShardIterator"]
            )
        except (ClientError, ParamValidationError) as error:
            code = (
                error.response.get("Error", {}).get("Code", "")
                if isinstance(error, ClientError)
                else "not a sequence number"
            )
            if isinstance(error, ClientError) and code not in _UNUSABLE_POSITION_ERRORS:
                raise
            print(
                f"stream runner: {consumer.name} cannot resume {shard.shard_id} after "
                f"{shard.last_sequence} ({code}); reading it from TRIM_HORIZON",
                flush=True,
            )
        shard.last_sequence = None
        arguments["ShardIteratorType"] = "TRIM_HORIZON"
        return str(self._streams.get_shard_iterator(**arguments)["ShardIterator"])

    def _poll_shard(self, consumer: _Consumer, shard: _Shard) -> int:
        """Once a record was handled, each poll reads from a fresh iterator after it: moto
        rolls a failed transaction back by putting a copy of the table in its place, and an
        iterator it handed out before then reads the old table's stream, which no longer
        grows (the records written after it would never reach the handlers)."""
        if shard.iterator is None or shard.last_sequence is not None:
            shard.iterator = self._iterator(consumer, shard)
        try:
            answer = self._streams.get_records(
                ShardIterator=shard.iterator, Limit=consumer.settings.batch_size
            )
        except self._streams.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in ("TrimmedDataAccessException", "ExpiredIteratorException"):
                raise
            shard.iterator = None  # DynamoDB Local expires idle iterators; take a fresh one
            return 0
        records = answer.get("Records", [])
        if records:
            self._deliver(consumer, shard, records)
        next_iterator = answer.get("NextShardIterator")
        if next_iterator is None:
            shard.finished = True
        shard.iterator = next_iterator
        return len(records)

    def _deliver(self, consumer: _Consumer, shard: _Shard, records: list[dict[str, Any]]) -> None:
        """Invoke the handler until the batch is done, retrying from the first failed
        record; the shard's position moves up to the record before it after each
        invocation, and past the batch once it is done (failures recorded)."""
        assert consumer.stream_arn is not None
        pending = [_lambda_record(r, consumer.stream_arn, self._region) for r in records]
        attempts = 0
        while pending:
            failed = self._invoke(consumer, pending)
            if not failed:
                break
            if attempts >= consumer.settings.maximum_retry_attempts:
                for record in pending:
                    if record["dynamodb"]["SequenceNumber"] in failed:
                        self._record_failure(consumer, shard, record, attempts + 1)
                break
            attempts += 1
            first = next(
                i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] in failed
            )
            if first > 0:
                self._advance(consumer, shard, pending[first - 1]["dynamodb"]["SequenceNumber"])
            pending = pending[first:]
        self._advance(consumer, shard, records[-1]["dynamodb"]["SequenceNumber"])
        self._count(len(records))

    def _count(self, records: int) -> None:
        with self._lock:
            self.records_processed += records

    def _invoke(self, consumer: _Consumer, records: list[dict[str, Any]]) -> set[str]:
        """The sequence numbers the handler failed (all of them when it raised)."""
        event = {"Records": records}
        context = _Context(consumer.name, time.monotonic() + 300)
        with self._guard_lock, self._guard(_function_name(consumer.name)):
            try:
                answer = consumer.handler(event, context) or {}
            except Exception as error:  # noqa: BLE001 - Lambda retries a failed invocation
                print(f"stream handler {consumer.name} failed: {error!r}", flush=True)
                return {r["dynamodb"]["SequenceNumber"] for r in records}
        return {str(f["itemIdentifier"]) for f in answer.get("batchItemFailures", [])}

    def _record_failure(
        self, consumer: _Consumer, shard: _Shard, record: dict[str, Any], attempts: int
    ) -> None:
        stream = record["dynamodb"]
        failure = {
            "consumer": consumer.name,
            "stream_arn": consumer.stream_arn,
            "shard_id": shard.shard_id,
            "sequence_number": stream["SequenceNumber"],
            "event_name": record["eventName"],
            "keys": stream.get("Keys"),
            "attempts": attempts,
            "at": time.time(),
        }
        with self._lock:
            self.failures.append(failure)
            if self._local_dir is not None:
                with (self._local_dir / FAILURES_FILE).open("a") as out:
                    out.write(json.dumps(failure) + "\n")

    # Draining.

    def _write_progress(self) -> None:
        if self._local_dir is None:
            return
        with self._lock:
            progress = {
                "consumers": self.consumer_names,
                "records_processed": self.records_processed,
                "failed": len(self.failures),
                "drained_since": self.drained_since,
                "written_at": time.time(),
            }
            _write_atomically(self._local_dir / PROGRESS_FILE, progress)

    def round(self) -> int:
        """One round over every consumer on the caller's thread (deterministic)."""
        started = time.time()
        handled = self.poll_once()
        if handled == 0:
            self.drained_since = started
        self._write_progress()
        return handled

    def drain(self, timeout: float = 60) -> None:
        """Poll until a whole round finds nothing (in-process use: tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while self.round():
            if time.monotonic() > deadline:
                raise TimeoutError("the streams did not drain in time")

    def start(self, interval: float = 0.2) -> list[str]:
        """Poll in the background, each stream consumer on its own thread (the queue
        consumers share one), as independent event source mappings do."""
        self._lanes = [
            _Lane(consumer.name, partial(self._poll_consumer, consumer))
            for consumer in self._consumers
        ]
        if self._queues:
            self._lanes.append(_Lane("queues", self._poll_queues))
        self._threads = [
            threading.Thread(
                target=self._run, args=(lane, interval), name=f"stream-{lane.name}", daemon=True
            )
            for lane in self._lanes
        ]
        for thread in self._threads:
            thread.start()
        return self.consumer_names

    def _run(self, lane: _Lane, interval: float) -> None:
        while not self._stop.is_set():
            started = time.time()
            try:
                handled = lane.poll()
            except Exception as error:  # noqa: BLE001 - keep polling; DynamoDB Local may restart
                print(f"stream runner ({lane.name}): {error!r}", flush=True)
                self._lane_round_done(lane, started, found=True)  # it may have delivered some
                self._stop.wait(1)
                continue
            self._lane_round_done(lane, started, found=handled > 0)
            if handled == 0:
                self._stop.wait(interval)

    def _lane_round_done(self, lane: _Lane, started: float, found: bool) -> None:
        """`drained_since` for background polling: the earliest of the lanes' latest empty
        rounds, once every lane has had one that started after the last delivery ended
        (what a handler wrote to another consumer's stream was then seen by it)."""
        with self._lock:
            if found:
                lane.idle_since = None
                self._last_delivery_end = time.time()
            else:
                lane.idle_since = started
            idle = [other.idle_since for other in self._lanes]
            if idle and all(since is not None for since in idle):
                since = min(s for s in idle if s is not None)
                if since >= self._last_delivery_end:
                    self.drained_since = since
        self._write_progress()

    def stop(self) -> None:
        """Stop polling; waits up to 10 s in all for the invocations in progress."""
        self._stop.set()
        deadline = time.monotonic() + 10
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


def wait_until_drained(local_dir: Path, since: float | None = None, timeout: float = 120) -> None:
    """Wait until the runner of a `make run` stack (its progress file under `local_dir`)
    has completed a round that found nothing and started after `since` (default: now)."""
    mark = time.time() if since is None else since
    deadline = time.monotonic() + timeout
    path = local_dir / PROGRESS_FILE
    while time.monotonic() < deadline:
        try:
            drained = json.loads(path.read_text()).get("drained_since")
        except (FileNotFoundError, json.JSONDecodeError):
            drained = None
        if drained is not None and drained > mark:
            return
        time.sleep(0.1)
    raise TimeoutError("the local streams did not drain in time")


def read_failures(local_dir: Path) -> list[dict[str, Any]]:
    path = local_dir / FAILURES_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
