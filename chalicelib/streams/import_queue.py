"""Bulk import processing (issue 16; docs/streams.md, "Bulk import").

The data stream reacts to an import item whose status is `queued` or `running` and whose
checkpoint (a byte offset of its file) is new: it sends one message naming that chunk to
the import queue. The queue's consumer processes the chunk and moves the checkpoint (a
conditional write), which makes the stream send the next chunk, until the file is done.
So no invocation runs longer than one chunk, a crash resumes from the last checkpoint, and
a message delivered twice (or a stream record read twice) finds the checkpoint already
moved and changes nothing.
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
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.queues_config import IMPORT_QUEUE, QueueConsumer

IMPORT_ENTITY = "import"
_ACTIVE = frozenset({"queued", "running"})


class ChunkRequest(BaseModel):
    tenant_id: str
    import_id: str
    offset: int


class _ImportImage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    entity: str
    tenant_id: str
    import_id: str
    status: str
    checkpoint: int = 0


def _image(raw: dict[str, Any] | None) -> _ImportImage | None:
    if not raw or raw.get("entity") != IMPORT_ENTITY:
        return None
    try:
        return _ImportImage.model_validate(raw)
    except ValidationError:
        return None


def chunk_due(record: DynamoDBRecord) -> ChunkRequest | None:
    """The chunk an import item's change asks for: its checkpoint, when the import is
    active and its status or checkpoint just changed (a change of counts alone asks for
    nothing)."""
    stream = record.dynamodb
    if stream is None or record.event_name is DynamoDBRecordEventName.REMOVE:
        return None
    new = _image(stream.new_image)
    if new is None or new.status not in _ACTIVE:
        return None
    old = _image(stream.old_image)
    if old is not None and (old.status, old.checkpoint) == (new.status, new.checkpoint):
        return None
    return ChunkRequest(tenant_id=new.tenant_id, import_id=new.import_id, offset=new.checkpoint)


def is_import_record(record: DynamoDBRecord) -> bool:
    stream = record.dynamodb
    if stream is None:
        return False
    image = stream.new_image or stream.old_image or {}
    return image.get("entity") == IMPORT_ENTITY


def send_chunk_request(request: ChunkRequest) -> None:
    """One message per chunk; its MessageGroupId is the tenant (SQS fair queues keep one
    tenant's big import from delaying the others')."""
    import boto3

    from chalicelib.settings import get_settings

    settings = get_settings()
    if settings.import_queue_url is None:
        raise RuntimeError("IMPORT_QUEUE_URL is not set: imports cannot be processed")
    boto3.client("sqs", region_name=settings.aws_region).send_message(
        QueueUrl=settings.import_queue_url,
        MessageBody=request.model_dump_json(),
        MessageGroupId=request.tenant_id,
    )


ProcessChunk = Callable[[TenantId, str, int], object]
FailImport = Callable[[TenantId, str, Exception], object]


@dataclass
class ImportQueueBatch:
    process: ProcessChunk
    fail: FailImport
    queue: QueueConsumer = IMPORT_QUEUE

    def handle(self, record: SQSRecord) -> None:
        request = ChunkRequest.model_validate_json(record.body)
        tenant = tenant_id(request.tenant_id)
        receives = int(record.attributes.approximate_receive_count or 1)
        try:
            self.process(tenant, request.import_id, request.offset)
        except Exception as error:
            if receives >= self.queue.max_receive_count:
                self.fail(tenant, request.import_id, error)
            raise


def process_batch(
    event: dict[str, Any], context: LambdaContext | None, batch: ImportQueueBatch
) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=batch.handle, processor=processor, context=context
    )


def _service_process(tenant: TenantId, import_id: str, offset: int) -> object:
    from chalicelib.services import imports

    return imports.process_chunk_as_creator(tenant, import_id, offset)


def _service_fail(tenant: TenantId, import_id: str, error: Exception) -> object:
    from chalicelib.services import imports

    imports.fail_import(tenant, import_id, error)
    return None


def process_imports(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler of the import queue (registered in app.py)."""
    batch = ImportQueueBatch(_service_process, _service_fail)
    return process_batch(event.to_dict(), getattr(event, "context", None), batch)
