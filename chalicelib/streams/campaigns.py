"""The data stream's campaign reactions (issue 15), called by the data table consumer for
each record: delivered campaign messages, purchases that convert and redeemed coupons a
campaign issued are counted once each (every count sits behind a marker written in the
same transaction, so redelivery counts nothing again); segment entries, tier changes and
resolved tickets start the messages of the campaigns they trigger (each message keyed by
the event's time, so redelivery sends nothing again). Campaign items in a customer's
partition feed no metrics: the consumer skips its refresh for them."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from chalicelib.domain.tenancy import tenant_id
from chalicelib.streams.records import (
    CustomerTicketImage,
    InteractionImage,
    ItemImage,
    PointsImage,
    parse_image,
)

CAMPAIGN_ENTITIES = frozenset(
    {"campaign_message", "campaign_cap", "campaign_conversion", "campaign_stats", "campaign"}
)


def _old_image(record: DynamoDBRecord) -> ItemImage | None:
    old = record.dynamodb.old_image if record.dynamodb is not None else None
    return parse_image(old) if old else None


def _customer_of(image: ItemImage) -> tuple[str, str]:
    """The tenant and customer of an item in a customer's partition (`T#{t}#CUS#{c}`)."""
    _, tenant, _, customer = image.pk.split("#", 3)
    return tenant, customer


def _old_status(record: DynamoDBRecord) -> str | None:
    old = record.dynamodb.old_image if record.dynamodb is not None else None
    return str(old.get("status")) if old else None


def react(record: DynamoDBRecord, image: ItemImage, raw: dict[str, Any]) -> bool:
    """Count what the record means for campaigns; True when the record is a campaign item
    (nothing else to do with it)."""
    removed = record.event_name is DynamoDBRecordEventName.REMOVE
    if image.entity == "campaign_message" and not removed and "counted_at" not in raw:
        _message_recorded(record, raw)
    if image.entity in CAMPAIGN_ENTITIES:
        return True
    if removed:
        return False
    if image.entity == "coupon":
        _coupon_redeemed(record, raw)
        return False
    if image.entity == "segment_event":
        _message_delivered(record, raw)
        if record.event_name is DynamoDBRecordEventName.INSERT:
            _segment_entered(raw)
    elif (
        isinstance(image, InteractionImage)
        and image.type == "purchase"
        and record.event_name is DynamoDBRecordEventName.INSERT
    ):
        _purchase(image)
    elif isinstance(image, PointsImage):
        _tier_changed(record, image)
    elif isinstance(image, CustomerTicketImage):
        _ticket_resolved(record, image)
    return False


def _message_recorded(record: DynamoDBRecord, raw: dict[str, Any]) -> None:
    """A message item not yet counted; `replaces_counted_deferral` when it was written
    over a deferred message that the stream had counted (its old image has `counted_at`)."""
    from chalicelib.domain.campaigns import DEFERRED
    from chalicelib.services.campaigns import record_message_outcome

    old = record.dynamodb.old_image if record.dynamodb is not None else None
    record_message_outcome(
        tenant_id(str(raw["tenant_id"])),
        str(raw["customer_id"]),
        str(raw["sk"]),
        str(raw["campaign_id"]),
        str(raw["status"]),
        replaces_counted_deferral=bool(
            old and old.get("status") == DEFERRED and old.get("counted_at")
        ),
    )


def _message_delivered(record: DynamoDBRecord, raw: dict[str, Any]) -> None:
    from chalicelib.services.campaigns import MESSAGE_EVENT, record_delivery

    if raw.get("type") != MESSAGE_EVENT or raw.get("status") != "delivered":
        return
    if _old_status(record) == "delivered":
        return
    detail = raw.get("detail")
    customer = raw.get("customer_id")
    if isinstance(detail, dict) and isinstance(customer, str):
        record_delivery(tenant_id(str(raw["tenant_id"])), customer, detail)


def _coupon_redeemed(record: DynamoDBRecord, raw: dict[str, Any]) -> None:
    """A coupon carrying a campaign id that this record shows turning redeemed."""
    from chalicelib.services.campaigns import on_coupon_redeemed

    campaign, customer = raw.get("campaign_id"), raw.get("customer_id")
    if not campaign or not customer or not raw.get("redeemed_at"):
        return
    old = record.dynamodb.old_image if record.dynamodb is not None else None
    if old and old.get("redeemed_at"):
        return
    on_coupon_redeemed(
        tenant_id(str(raw["tenant_id"])),
        str(campaign),
        str(customer),
        str(raw["code"]),
        str(raw["offer_id"]),
    )


def _segment_entered(raw: dict[str, Any]) -> None:
    from datetime import datetime

    from chalicelib.services.campaigns import on_segment_entered

    segment, customer = raw.get("segment_id"), raw.get("customer_id")
    if raw.get("type") != "segment.entered" or not segment or not customer:
        return
    occurred = datetime.fromisoformat(str(raw["occurred_at"]))
    on_segment_entered(tenant_id(str(raw["tenant_id"])), str(segment), str(customer), occurred)


def _tier_changed(record: DynamoDBRecord, image: PointsImage) -> None:
    """A points account whose tier differs from the record's old image (a new account:
    from the tenant's first tier)."""
    from chalicelib.services.campaigns import on_tier_changed

    old = _old_image(record)
    before = old.tier if isinstance(old, PointsImage) else None
    if before == image.tier or image.updated_at is None:
        return
    tenant, customer = _customer_of(image)
    on_tier_changed(tenant_id(tenant), customer, before, image.tier, image.updated_at)


def _ticket_resolved(record: DynamoDBRecord, image: CustomerTicketImage) -> None:
    """The customer's copy of a ticket moved into `resolved`."""
    from chalicelib.services.campaigns import on_ticket_resolved

    old = _old_image(record)
    was_resolved = isinstance(old, CustomerTicketImage) and old.status == "resolved"
    if image.status != "resolved" or was_resolved or image.resolved_at is None:
        return
    tenant, customer = _customer_of(image)
    on_ticket_resolved(tenant_id(tenant), customer, image.resolved_at)


def _purchase(image: InteractionImage) -> None:
    from chalicelib.services.campaigns import record_purchase

    try:
        amount = Decimal(str(image.details.get("amount", "0")))
    except InvalidOperation:
        amount = Decimal(0)
    _, tenant, _, customer = image.pk.split("#", 3)
    record_purchase(tenant_id(tenant), customer, image.interaction_id, image.occurred_at, amount)
