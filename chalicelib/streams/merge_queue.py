"""Merge continuations (issue 16; docs/data-model.md, "Customer merge (issue 16)").

A merge request does a bounded share of the steps (the MERGE_REQUEST_BUDGET_SECONDS
setting); if the merge is not done it answers 202 and sends one message naming the merge
record to the merge queue. The queue's consumer runs another bounded share
(CONTINUATION_BUDGET) and, while the merge is still moving, sends the next message. Every
step is conditioned on the record's stored step count, so a message delivered twice (or
two consumers at once) resumes from the stored count and moves nothing twice; a message
for a finished merge changes nothing.
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
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from chalicelib.domain.errors import QueueUnavailable
from chalicelib.domain.merge import MergeRecord
from chalicelib.domain.tenancy import TenantId, tenant_id


class MergeContinuation(BaseModel):
    tenant_id: str
    survivor_id: str
    merge_id: str


def send_continuation(tenant: TenantId, record: MergeRecord) -> None:
    """One message per continuation; its MessageGroupId is the tenant (SQS fair queues keep
    one tenant's big merges from delaying the others')."""
    import boto3

    from chalicelib.settings import get_settings

    settings = get_settings()
    if settings.merge_queue_url is None:
        raise RuntimeError("MERGE_QUEUE_URL is not set: merges cannot continue")
    request = MergeContinuation(
        tenant_id=tenant, survivor_id=record.survivor_id, merge_id=record.id
    )
    try:
        boto3.client("sqs", region_name=settings.aws_region).send_message(
            QueueUrl=settings.merge_queue_url,
            MessageBody=request.model_dump_json(),
            MessageGroupId=request.tenant_id,
        )
    except (BotoCoreError, ClientError) as error:
        raise QueueUnavailable(
            f"merge {record.id} moved {record.items_moved} items and could not be queued to "
            "continue; send the same merge request again to resume it"
        ) from error


ContinueMerge = Callable[[TenantId, str, str], object]


@dataclass
class MergeQueueBatch:
    continue_merge: ContinueMerge

    def handle(self, record: SQSRecord) -> None:
        request = MergeContinuation.model_validate_json(record.body)
        self.continue_merge(tenant_id(request.tenant_id), request.survivor_id, request.merge_id)


def process_batch(
    event: dict[str, Any], context: LambdaContext | None, batch: MergeQueueBatch
) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=batch.handle, processor=processor, context=context
    )


def _service_continue(tenant: TenantId, survivor_id: str, merge_id: str) -> object:
    from chalicelib.services import merge

    return merge.continue_merge(tenant, survivor_id, merge_id)


def continue_merges(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler of the merge queue (registered in app.py)."""
    batch = MergeQueueBatch(_service_continue)
    return process_batch(event.to_dict(), getattr(event, "context", None), batch)
