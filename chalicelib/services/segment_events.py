"""Segment events: written with each membership change (outbox), delivered by the data
stream consumer to the tenant's webhook (signed, retried with backoff) and, when deployed
with EVENT_BUS_NAME, to EventBridge; events that keep failing wait for a replay."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from chalicelib.dal import events as repository
from chalicelib.dal.transactions import LabelledTransaction
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import new_event_id
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.segments import EventStatus, SegmentEvent
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tenant_config import TenantConfig
from chalicelib.observability import logger
from chalicelib.services.segments import EventWriter, SegmentChange
from chalicelib.services.tenant_config import get_tenant_config
from chalicelib.settings import get_settings

SIGNATURE_HEADER = "Webhook-Signature"
DELIVERY_ATTEMPTS = 3
BACKOFF_SECONDS = 0.2
TIMEOUT_SECONDS = 5.0


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


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t={timestamp},v1={hex HMAC-SHA256 over "{timestamp}.{body}"}`: a receiver recomputes
    it, rejects timestamps older than a few minutes and remembers event ids (replay-safe)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


Sender = Callable[[str, bytes, dict[str, str]], int]


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@cache
def _event_bridge() -> Any:
    import boto3

    return boto3.client("events", region_name=get_settings().aws_region)


@dataclass
class Delivery:
    """How events are sent; tests shorten the backoff and may replace the sender."""

    send: Sender = _post
    attempts: int = DELIVERY_ATTEMPTS
    backoff_seconds: float = BACKOFF_SECONDS
    sleep: Callable[[float], None] = time.sleep

    def webhook(self, tenant: TenantId, event: SegmentEvent, config: TenantConfig) -> str | None:
        """None when delivered, else why not."""
        if config.webhook_url is None:
            return None
        if config.webhook_secret is None:
            return "webhook_secret is not configured"
        body = json.dumps(event.payload(tenant), separators=(",", ":")).encode()
        error = "not attempted"
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            headers = {
                "Content-Type": "application/json",
                "Webhook-Id": event.id,
                SIGNATURE_HEADER: signature(config.webhook_secret, int(time.time()), body),
            }
            try:
                status = self.send(str(config.webhook_url), body, headers)
            except OSError as failure:
                error = f"{type(failure).__name__}: {failure}"
                continue
            if 200 <= status < 300:
                return None
            error = f"HTTP {status}"
        return error

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


def deliver(tenant: TenantId, event_id: str, delivery: Delivery | None = None) -> None:
    """Send a pending event (read afresh: a redelivered stream record of an event already
    sent does nothing) and record the outcome; a failure lists it for replay."""
    event = repository.get_event(tenant, event_id)
    if event is None or event.status is not EventStatus.PENDING:
        return
    sender = delivery or Delivery()
    config = get_tenant_config(tenant)
    error = sender.webhook(tenant, event, config) or sender.event_bus(tenant, event)
    attempts = event.attempts + 1
    if error is None:
        outcome = replace(
            event, status=EventStatus.DELIVERED, attempts=attempts, delivered_at=utc_now()
        )
    else:
        logger.warning("segment event not delivered", event_id=event.id, reason=error)
        outcome = replace(event, status=EventStatus.FAILED, attempts=attempts, last_error=error)
    repository.save_event(tenant, outcome)


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
    """Back to pending: the stream consumer delivers it again within seconds."""
    event = repository.get_event(tenant, event_id)
    if event is None:
        raise NotFound(f"event {event_id} does not exist")
    pending = replace(event, status=EventStatus.PENDING, last_error=None, replays=event.replays + 1)
    repository.save_event(tenant, pending)
    return pending
