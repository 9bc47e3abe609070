"""Segment events: written with each membership change (outbox), queued by the data stream
consumer (one SQS message per pending event), delivered by the webhook queue's consumer to
the tenant's webhook (Standard Webhooks signatures; one attempt per receive, backoff through
the message's visibility) and, when deployed with EVENT_BUS_NAME, to EventBridge; events
that exhaust their attempts are listed as failed and wait for a replay."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.dal import events as repository
from chalicelib.dal.transactions import LabelledTransaction
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import TENANT_ID_PATTERN, new_event_id
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.segments import EventStatus, SegmentEvent
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tenant_config import TenantConfig, webhook_signing_key
from chalicelib.observability import logger
from chalicelib.services.segments import EventWriter, SegmentChange
from chalicelib.services.tenant_config import get_tenant_config, webhook_receiver_policy
from chalicelib.services.webhook_transport import DeliveryFailed, post_webhook
from chalicelib.settings import get_settings


def publishes_events(config: TenantConfig) -> bool:
    return config.webhook_url is not None or get_settings().event_bus_name is not None


def event_writer(config: TenantConfig) -> EventWriter | None:
    """What refresh_customer adds to a membership change's transaction: one event per
    entry and exit. None when the tenant has nowhere to send them."""
    if not publishes_events(config):
        return None

    def write(
        tenant: TenantId, change: SegmentChange, now: datetime
    ) -> Callable[[LabelledTransaction], None]:
        events = [
            SegmentEvent(new_event_id(), kind, segment, change.customer_id, now)
            for kind, segments in (
                ("segment.entered", change.entered),
                ("segment.exited", change.exited),
            )
            for segment in sorted(segments)
        ]

        def add(transaction: LabelledTransaction) -> None:
            for event in events:
                repository.add_to(transaction, tenant, event)

        return add

    return write


def signature(key: bytes, event_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: `v1,{base64 HMAC-SHA256 over "{id}.{timestamp}.{body}"}`. A
    receiver recomputes it (its libraries do), rejects old timestamps and remembers ids."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_headers(key: bytes, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, event_id, timestamp, body),
    }


Sender = Callable[[str, bytes, dict[str, str]], int]


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return post_webhook(url, body, headers, webhook_receiver_policy())


@cache
def _event_bridge() -> Any:
    import boto3

    return boto3.client("events", region_name=get_settings().aws_region)


@cache
def _sqs() -> Any:
    import boto3

    return boto3.client("sqs", region_name=get_settings().aws_region)


@dataclass
class Delivery:
    """How events are sent (one attempt each); tests may replace the sender and clock."""

    send: Sender = _post
    clock: Callable[[], float] = time.time

    def webhook(self, tenant: TenantId, event: SegmentEvent, config: TenantConfig) -> str | None:
        """None when delivered, else why not (a generic reason, safe to show the tenant)."""
        if config.webhook_url is None:
            return None
        if config.webhook_secret is None:
            return "webhook_secret is not configured"
        try:
            key = webhook_signing_key(config.webhook_secret)
        except (ValueError, binascii.Error):
            return "webhook_secret is not usable"
        body = json.dumps(event.payload(tenant), separators=(",", ":")).encode()
        headers = webhook_headers(key, event.id, int(self.clock()), body)
        try:
            status = self.send(str(config.webhook_url), body, headers)
        except DeliveryFailed as failure:
            return failure.reason
        except OSError:
            return "receiver unreachable"
        if 200 <= status < 300:
            return None
        return f"receiver answered HTTP {status}"

    def event_bus(self, tenant: TenantId, event: SegmentEvent) -> str | None:
        bus = get_settings().event_bus_name
        if bus is None:
            return None
        answer = _event_bridge().put_events(
            Entries=[
                {
                    "Source": "customer-ops.segments",
                    "DetailType": event.type,
                    "Detail": json.dumps(event.payload(tenant)),
                    "EventBusName": bus,
                }
            ]
        )
        return "EventBridge refused the event" if answer.get("FailedEntryCount") else None


def enqueue_delivery(tenant: TenantId, event_id: str) -> None:
    """One message per pending event on the webhook queue; its MessageGroupId is the tenant,
    so SQS fair queues keep one tenant's backlog from delaying the others' deliveries."""
    queue_url = get_settings().webhook_queue_url
    if queue_url is None:
        raise RuntimeError("WEBHOOK_QUEUE_URL is not set: segment events cannot be delivered")
    _sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=DeliveryRequest(tenant_id=tenant, event_id=event_id).model_dump_json(),
        MessageGroupId=tenant,
    )


def retry_delivery_later(receipt_handle: str, seconds: int) -> None:
    """The webhook queue's message is shown again after `seconds` (the backoff)."""
    _sqs().change_message_visibility(
        QueueUrl=get_settings().webhook_queue_url,
        ReceiptHandle=receipt_handle,
        VisibilityTimeout=seconds,
    )


class DeliveryRequest(BaseModel):
    """A webhook queue message's body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(pattern=TENANT_ID_PATTERN.pattern)
    event_id: str = Field(pattern=r"^evt_[A-Za-z0-9_]+$")


def deliver(
    tenant: TenantId, event_id: str, last_attempt: bool, delivery: Delivery | None = None
) -> bool:
    """One attempt at a pending event (read afresh: a redelivered message of an event
    already sent does nothing). Answers True when the message is done with, False when it
    should be retried later. A failed last attempt lists the event as failed (for replay).
    The outcome is saved only if no concurrent attempt (a duplicate message) saved first;
    one that lost leaves the event to the winner's message."""
    event = repository.get_event(tenant, event_id)
    if event is None or event.status is not EventStatus.PENDING:
        return True
    sender = delivery or Delivery()
    config = get_tenant_config(tenant)
    error = sender.webhook(tenant, event, config) or sender.event_bus(tenant, event)
    attempts = event.attempts + 1
    if error is None:
        outcome = replace(
            event, status=EventStatus.DELIVERED, attempts=attempts, delivered_at=utc_now()
        )
    elif last_attempt:
        logger.warning("segment event not delivered", event_id=event.id, reason=error)
        outcome = replace(event, status=EventStatus.FAILED, attempts=attempts, last_error=error)
    else:
        outcome = replace(event, attempts=attempts, last_error=error)
    if not repository.save_attempt(tenant, outcome, event.attempts):
        return True
    return outcome.status is not EventStatus.PENDING


UNDELIVERABLE = "delivery gave up"


def record_undeliverable(tenant: TenantId, event_id: str) -> None:
    """A dead-lettered message's event, still pending (its deliveries kept crashing), is
    listed as failed, keeping the last reason seen if there was one. Done events stay."""
    event = repository.get_event(tenant, event_id)
    if event is None or event.status is not EventStatus.PENDING:
        return
    logger.warning("segment event dead-lettered", event_id=event.id)
    failed = replace(event, status=EventStatus.FAILED, last_error=event.last_error or UNDELIVERABLE)
    repository.save_event(tenant, failed)


def publish_alert(tenant: TenantId, alert: AuditEntry) -> None:
    """An audit alert as an `audit.alert` event, delivered like segment events (the event
    id follows from the alert's, so a redelivered alert writes nothing new)."""
    if not publishes_events(get_tenant_config(tenant)):
        return
    customer = alert.customer_ids[0] if len(alert.customer_ids) == 1 else None
    event = SegmentEvent(
        id="evt_" + alert.entry_id.removeprefix("aud_"),
        type="audit.alert",
        segment_id=None,
        customer_id=customer,
        occurred_at=alert.at,
        detail={**alert.detail, "alert_id": alert.entry_id, "actor": alert.actor},
    )
    repository.add_event(tenant, event)


def list_failed(tenant: TenantId, page: PageRequest) -> Page[SegmentEvent]:
    return repository.list_failed(tenant, page)


def replay(tenant: TenantId, event_id: str) -> SegmentEvent:
    """Back to pending: the data stream consumer sees the change and queues it again."""
    event = repository.get_event(tenant, event_id)
    if event is None:
        raise NotFound(f"event {event_id} does not exist")
    pending = replace(event, status=EventStatus.PENDING, last_error=None, replays=event.replays + 1)
    repository.save_event(tenant, pending)
    return pending
