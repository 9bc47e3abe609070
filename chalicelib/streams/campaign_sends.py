"""Campaign sends (issue 15; docs/streams.md, "Campaign sends").

The campaign job walks a launched campaign's membership pages and queues one message per
page, naming the page's member ids, on the `campaign-sends` queue; this module is that
queue's sender and its consumer. A worker sends to the page's members through the
campaign service (`send_page`: holdout, consent, frequency cap as for any send) and marks
the page settled; a redelivered page finds its members already messaged for the run and
its marker written, so it sends and counts nothing twice. A page taken within the
tenant's quiet hours (queued just before they began) sends nothing then: its members'
messages are recorded deferred, and the campaign job sends them once quiet hours end. A
page that fails its last receive is settled as failed (the run can end; the dead-letter
queue keeps the message).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
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

from chalicelib.domain.campaigns import RecipientPage
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.queues_config import CAMPAIGN_SEND_QUEUE, QueueConsumer
from chalicelib.streams.queueing import send_messages

MAX_RECIPIENTS_PER_MESSAGE = 100


class PageMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str
    campaign_id: str
    run_at: datetime
    page: int = Field(ge=0)
    customer_ids: list[str] = Field(max_length=MAX_RECIPIENTS_PER_MESSAGE)

    @classmethod
    def of(cls, tenant: TenantId, page: RecipientPage) -> PageMessage:
        return cls(
            tenant_id=tenant,
            campaign_id=page.campaign_id,
            run_at=page.run_at,
            page=page.number,
            customer_ids=list(page.customer_ids),
        )

    def recipient_page(self) -> RecipientPage:
        return RecipientPage(self.campaign_id, self.run_at, self.page, tuple(self.customer_ids))


def queue_pages(tenant: TenantId, pages: Sequence[RecipientPage]) -> None:
    """The pages as messages, by SendMessageBatch; the MessageGroupId is the tenant (SQS
    fair queues keep one tenant's large launch from delaying another's)."""
    from chalicelib.settings import get_settings

    queue_url = get_settings().campaign_send_queue_url
    if queue_url is None:
        raise RuntimeError("CAMPAIGN_SEND_QUEUE_URL is not set: campaigns cannot be sent")
    bodies = [PageMessage.of(tenant, page).model_dump_json() for page in pages]
    send_messages(queue_url, bodies, "campaign page", group_id=tenant)


SendPage = Callable[[TenantId, RecipientPage], object]
GiveUpPage = Callable[[TenantId, RecipientPage, Exception], object]


@dataclass
class CampaignSendBatch:
    send: SendPage
    give_up: GiveUpPage
    queue: QueueConsumer = CAMPAIGN_SEND_QUEUE

    def handle(self, record: SQSRecord) -> None:
        message = PageMessage.model_validate_json(record.body)
        tenant = tenant_id(message.tenant_id)
        page = message.recipient_page()
        receives = int(record.attributes.approximate_receive_count or 1)
        try:
            self.send(tenant, page)
        except Exception as error:
            if receives >= self.queue.max_receive_count:
                self.give_up(tenant, page, error)
            raise


def process_batch(
    event: dict[str, Any], context: LambdaContext | None, batch: CampaignSendBatch
) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=batch.handle, processor=processor, context=context
    )


def _service_send(tenant: TenantId, page: RecipientPage) -> object:
    from chalicelib.services import campaigns

    campaigns.send_page(tenant, page)
    return None


def _service_give_up(tenant: TenantId, page: RecipientPage, error: Exception) -> object:
    from chalicelib.services import campaigns

    campaigns.give_up_page(tenant, page, error)
    return None


def send_campaign_pages(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler of the campaign-sends queue (registered in app.py); its writes
    are attributed to it."""
    from chalicelib.dal.attribution import system_writer, writing_as

    batch = CampaignSendBatch(_service_send, _service_give_up)
    with writing_as(system_writer("send_campaign_pages", event)):
        return process_batch(event.to_dict(), getattr(event, "context", None), batch)
