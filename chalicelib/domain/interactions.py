"""Interactions: every touchpoint with a customer, as recorded on its timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from chalicelib.domain.errors import FieldIssue, InvalidInput

MAX_FUTURE_SKEW: Final = timedelta(minutes=5)


class InteractionType(StrEnum):
    PURCHASE = "purchase"
    REFUND = "refund"
    VISIT = "visit"
    INQUIRY = "inquiry"
    COMPLAINT = "complaint"
    FEEDBACK = "feedback"
    APP_EVENT = "app_event"
    EMAIL_EVENT = "email_event"
    SMS_EVENT = "sms_event"


class Channel(StrEnum):
    ONLINE = "online"
    STORE = "store"
    APP = "app"
    PHONE = "phone"
    SOCIAL = "social"
    OTHER = "other"


@dataclass(frozen=True)
class InteractionDraft:
    """What a caller asks to record. `details` holds the type's own fields (amount, currency,
    order_id, items, rating, nps, text, name), already validated by the schema.
    Without `occurred_at` the interaction happened when it is recorded."""

    type: InteractionType
    occurred_at: datetime | None = None
    channel: Channel | None = None
    location_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def order_id(self) -> str | None:
        value = self.details.get("order_id")
        return str(value) if value is not None else None

    @property
    def amount(self) -> Decimal | None:
        value = self.details.get("amount")
        return Decimal(str(value)) if value is not None else None


@dataclass(frozen=True)
class BatchItem:
    """One item of a batch: its customer by id or by external id, and what to record."""

    draft: InteractionDraft
    customer_id: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class Interaction:
    id: str
    customer_id: str
    type: InteractionType
    occurred_at: datetime
    recorded_at: datetime
    channel: Channel | None
    location_id: str | None
    attributes: dict[str, Any]
    details: dict[str, Any]
    points: int = 0


@dataclass(frozen=True)
class Order:
    """A purchase, claimed once per order id within the tenant; refunds take from it."""

    order_id: str
    customer_id: str
    interaction_id: str
    amount: Decimal
    currency: str
    points: int
    occurred_at: datetime
    refunded_amount: Decimal = Decimal(0)
    points_reversed: int = 0
    version: int = 0

    def check_refund(self, amount: Decimal | None, currency: str | None) -> Decimal:
        """The amount a refund takes back (the whole remainder when none is given)."""
        remaining = self.amount - self.refunded_amount
        if currency is not None and currency != self.currency:
            raise InvalidInput(
                [FieldIssue("currency", f"order {self.order_id} was paid in {self.currency}")]
            )
        refund = remaining if amount is None else amount
        if refund <= 0 or refund > remaining:
            raise InvalidInput(
                [FieldIssue("amount", f"order {self.order_id} has {remaining} left to refund")]
            )
        return refund


def check_occurred_at(occurred_at: datetime, now: datetime) -> None:
    if occurred_at > now + MAX_FUTURE_SKEW:
        raise InvalidInput(
            [FieldIssue("occurred_at", "may not be more than 5 minutes in the future")]
        )
