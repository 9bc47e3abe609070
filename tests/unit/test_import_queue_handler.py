"""Import chunk messages: which data stream records ask for a chunk (and which do not, so
a redelivered record or a count-only change sends nothing), and the import queue's record
handling with fakes (partial failures, the last receive fails the import)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from chalicelib.domain.tenancy import TenantId
from chalicelib.queues_config import IMPORT_QUEUE
from chalicelib.streams.data_table import process_batch as process_data_stream
from chalicelib.streams.import_queue import ChunkRequest, ImportQueueBatch, process_batch
from tests.support.streams import StreamEventBuilder

TENANT = "ten_01M81Y3CBPRNGM9WHT0MQZ3JPG"
IMPORT_ID = "imp_01M81Y3CBPRNGM9WHT0MQZ3JPH"


def import_item(status: str, checkpoint: int, rows_done: int = 0) -> dict[str, Any]:
    return {
        "pk": f"T#{TENANT}#IMPORTS",
        "sk": f"IMP#{IMPORT_ID}",
        "entity": "import",
        "tenant_id": TENANT,
        "import_id": IMPORT_ID,
        "status": status,
        "checkpoint": Decimal(checkpoint),
        "rows_done": Decimal(rows_done),
    }


def chunks_asked_for(event: dict[str, Any]) -> list[ChunkRequest]:
    sent: list[ChunkRequest] = []
    refreshed: list[str] = []
    answer = process_data_stream(
        event,
        None,
        lambda tenant, customer: refreshed.append(customer),
        import_chunks=sent.append,
    )
    assert answer == {"batchItemFailures": []}
    assert refreshed == []
    return sent


def test_a_queued_import_asks_for_its_first_chunk() -> None:
    # Given an import moving from awaiting its file to queued
    event = (
        StreamEventBuilder()
        .modify(import_item("awaiting_upload", 0), import_item("queued", 0))
        .build()
    )

    # When the data stream consumer reads it
    sent = chunks_asked_for(event)

    # Then it asks for the chunk at offset 0
    assert sent == [ChunkRequest(tenant_id=TENANT, import_id=IMPORT_ID, offset=0)]


def test_a_moved_checkpoint_asks_for_the_next_chunk_until_completed() -> None:
    # Given a checkpoint that moved, and then the import completing
    event = (
        StreamEventBuilder()
        .modify(import_item("queued", 0), import_item("running", 4096, rows_done=500))
        .modify(import_item("running", 4096), import_item("completed", 9000, rows_done=900))
        .build()
    )

    # When the consumer reads them
    sent = chunks_asked_for(event)

    # Then only the running import asks for its next chunk
    assert sent == [ChunkRequest(tenant_id=TENANT, import_id=IMPORT_ID, offset=4096)]


def test_records_that_move_nothing_ask_for_nothing() -> None:
    # Given a new import awaiting its file, a change of counts alone, a failed import and
    # a removed one
    event = (
        StreamEventBuilder()
        .insert(import_item("awaiting_upload", 0))
        .modify(import_item("running", 10, rows_done=1), import_item("running", 10, rows_done=2))
        .modify(import_item("running", 10), import_item("failed", 10))
        .remove(import_item("completed", 10))
        .build()
    )

    # When the consumer reads them
    # Then no chunk is asked for
    assert chunks_asked_for(event) == []


def sqs_record(offset: int, receive_count: int) -> dict[str, Any]:
    message_id = str(uuid.uuid4())
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps({"tenant_id": TENANT, "import_id": IMPORT_ID, "offset": offset}),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:import-chunks",
        "awsRegion": "us-east-1",
    }


class FakeWorker:
    def __init__(self, crashing_offsets: set[int]) -> None:
        self.crashing = crashing_offsets
        self.processed: list[tuple[TenantId, str, int]] = []
        self.failed: list[tuple[str, str]] = []

    def process(self, tenant: TenantId, import_id: str, offset: int) -> bool:
        if offset in self.crashing:
            raise RuntimeError("the store is down")
        self.processed.append((tenant, import_id, offset))
        return True

    def fail(self, tenant: TenantId, import_id: str, error: Exception) -> None:
        self.failed.append((import_id, type(error).__name__))


def test_a_crashing_chunk_is_reported_and_retried_while_receives_remain() -> None:
    # Given a worker that crashes on offset 7
    worker = FakeWorker({7})
    batch = ImportQueueBatch(worker.process, worker.fail)
    records = [sqs_record(0, 1), sqs_record(7, 1)]

    # When the batch is processed
    answer = process_batch({"Records": records}, None, batch)

    # Then the crashed message alone comes back, and the import is not failed yet
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}
    assert worker.processed == [(TENANT, IMPORT_ID, 0)]
    assert worker.failed == []


def test_the_last_receive_of_a_crashing_chunk_fails_the_import() -> None:
    # Given a chunk message on its last receive that crashes again
    worker = FakeWorker({7})
    batch = ImportQueueBatch(worker.process, worker.fail)
    record = sqs_record(7, IMPORT_QUEUE.max_receive_count)

    # When it is processed
    answer = process_batch({"Records": [record]}, None, batch)

    # Then the import is failed (and the message goes on to the dead-letter queue)
    assert answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert worker.failed == [(IMPORT_ID, "RuntimeError")]
