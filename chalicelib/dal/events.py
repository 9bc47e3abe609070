"""Segment events: the outbox items written with membership changes, their delivery
status, and the tenant's failed events (gsi5)."""

from __future__ import annotations

from datetime import timedelta

from pynamodb.exceptions import PutError

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import page_of
from chalicelib.dal.models import SegmentEventItem
from chalicelib.dal.transactions import LabelledTransaction
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.segments import EventStatus, SegmentEvent
from chalicelib.domain.tenancy import TenantId

EVENT_RETENTION = timedelta(days=30)


def _item(tenant: TenantId, event: SegmentEvent) -> SegmentEventItem:
    failed = event.status is EventStatus.FAILED
    order = f"{event.occurred_at.isoformat()}#{event.id}"
    return SegmentEventItem(
        pk=keys.event_pk(tenant, event.id),
        sk=keys.EVENT_SK,
        gsi5pk=keys.failed_events_pk(tenant) if failed else None,
        gsi5sk=order if failed else None,
        tenant_id=tenant,
        event_id=event.id,
        type=event.type,
        segment_id=event.segment_id,
        customer_id=event.customer_id,
        occurred_at=event.occurred_at,
        status=event.status.value,
        attempts=event.attempts,
        last_error=event.last_error,
        delivered_at=event.delivered_at,
        replays=event.replays,
        ttl=int((event.occurred_at + EVENT_RETENTION).timestamp()),
        detail=dict(event.detail) or None,
    )


def _event(item: SegmentEventItem) -> SegmentEvent:
    return SegmentEvent(
        id=item.event_id,
        type=item.type,
        segment_id=item.segment_id,
        customer_id=item.customer_id,
        occurred_at=item.occurred_at,
        status=EventStatus(item.status),
        attempts=int(item.attempts or 0),
        last_error=item.last_error,
        delivered_at=item.delivered_at,
        replays=int(item.replays or 0),
        detail=item.detail.as_dict() if item.detail is not None else {},
    )


def add_to(transaction: LabelledTransaction, tenant: TenantId, event: SegmentEvent) -> None:
    """Put the event in the membership change's own transaction (the outbox)."""
    transaction.put(
        f"event:{event.id}", _item(tenant, event), condition=SegmentEventItem.pk.does_not_exist()
    )


def add_event(tenant: TenantId, event: SegmentEvent) -> None:
    """Put an event on its own (idempotent: the same event id is written once)."""
    bound_settings()
    try:
        _item(tenant, event).save(condition=SegmentEventItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise


def get_event(tenant: TenantId, event_id: str) -> SegmentEvent | None:
    bound_settings()
    try:
        return _event(SegmentEventItem.get(keys.event_pk(tenant, event_id), keys.EVENT_SK))
    except SegmentEventItem.DoesNotExist:
        return None


def save_event(tenant: TenantId, event: SegmentEvent) -> None:
    bound_settings()
    _item(tenant, event).save()


def save_attempt(tenant: TenantId, event: SegmentEvent, attempts_read: int) -> bool:
    """Save an attempt's outcome unless another attempt (a duplicate message) saved first:
    the put is conditional on the event being still pending with the attempts that were
    read. False when it lost."""
    bound_settings()
    condition = (SegmentEventItem.status == EventStatus.PENDING.value) & (
        SegmentEventItem.attempts == attempts_read
    )
    try:
        _item(tenant, event).save(condition=condition)
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def list_failed(tenant: TenantId, page: PageRequest) -> Page[SegmentEvent]:
    """Oldest first: one Query on gsi5 per page."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        "events:failed",
        page,
        lambda start, limit: SegmentEventItem.by_failure.query(
            keys.failed_events_pk(tenant),
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        ("gsi5pk", "gsi5sk"),
    )
    return Page([_event(item) for item in items], cursor)
