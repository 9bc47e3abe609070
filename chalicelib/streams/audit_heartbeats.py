"""Audit heartbeats (docs/security.md, "Audit trail"; docs/streams.md, "Audit heartbeats").

Every digest period the schedule (`audit_heartbeats`, chalicelib/jobs.py) pages through
the tenants and queues one message per page, naming the page's tenant ids, on the
`audit-heartbeats` queue; this module is that queue's sender and its consumer. The
consumer appends a heartbeat to each of its page's tenants whose chain is due one
(`append_heartbeats`); a tenant that fails is logged by id and fails the message, which is
received again (the tenants done by then are no longer due) and, after its last receive,
moved to the dead-letter queue.

A message carries the ids, not a cursor: the schedule reads every page anyway (to know
where the next one starts), so the ids cost it nothing more; a message is then a fixed set
of at most 100 tenants whatever happens to the listing later, its consumer reads no index,
and its pages run in parallel instead of one after another (a cursor would have its
consumer query the page again, or queue the next cursor and serialise the pages).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services.audit import HEARTBEAT_TENANTS_PER_PAGE
from chalicelib.streams.queueing import send_messages


class HeartbeatPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_ids: list[str] = Field(min_length=1, max_length=HEARTBEAT_TENANTS_PER_PAGE)

    def tenants(self) -> list[TenantId]:
        return [tenant_id(value) for value in self.tenant_ids]


def send_heartbeat_pages(pages: Sequence[Sequence[TenantId]]) -> None:
    """The pages as messages, by SendMessageBatch."""
    from chalicelib.settings import get_settings

    queue_url = get_settings().audit_heartbeat_queue_url
    if queue_url is None:
        raise RuntimeError("AUDIT_HEARTBEAT_QUEUE_URL is not set: heartbeats cannot be queued")
    bodies = [HeartbeatPage(tenant_ids=list(page)).model_dump_json() for page in pages]
    send_messages(queue_url, bodies, "audit heartbeat page")


AppendHeartbeats = Callable[[Sequence[TenantId]], object]


@dataclass
class HeartbeatBatch:
    append: AppendHeartbeats

    def handle(self, record: SQSRecord) -> None:
        page = HeartbeatPage.model_validate_json(record.body)
        self.append(page.tenants())


def process_batch(
    event: dict[str, Any], context: LambdaContext | None, batch: HeartbeatBatch
) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=batch.handle, processor=processor, context=context
    )


def _service_append(tenants: Sequence[TenantId]) -> object:
    from chalicelib.observability import logger
    from chalicelib.services.audit import append_heartbeats

    appended = append_heartbeats(tenants)
    logger.info("audit heartbeats", tenants=len(tenants), appended=appended)
    return None


def append_audit_heartbeats(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler of the audit-heartbeats queue (registered in app.py); its
    writes are attributed to it."""
    from chalicelib.dal.attribution import system_writer, writing_as

    with writing_as(system_writer("append_audit_heartbeats", event)):
        return process_batch(
            event.to_dict(), getattr(event, "context", None), HeartbeatBatch(_service_append)
        )
