"""Interaction request and response bodies."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    JsonValue,
    RootModel,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from chalicelib.domain.errors import FieldIssue, InvalidInput
from chalicelib.domain.interactions import BatchItem, Channel, InteractionDraft
from chalicelib.domain.interactions import InteractionType as Kind
from chalicelib.domain.outcomes import InteractionRecord
from chalicelib.domain.plans import PLAN_LIMITS
from chalicelib.domain.timeline import (
    TIMELINE_TYPES,
    CampaignMention,
    TicketMention,
    TimelineEntry,
    parse_types,
)
from chalicelib.schemas.common import Instant, PageQuery, RequestBody
from chalicelib.schemas.customers import Attributes, ExternalId

Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, le=10**12, max_digits=16, decimal_places=4)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
EventName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class LineItem(RequestBody):
    sku: Id | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    quantity: Annotated[int, Field(ge=1, le=100_000)] = 1
    unit_price: Money | None = None


class _Common(RequestBody):
    channel: Channel | None = None
    occurred_at: Instant | None = Field(
        None, description="ISO-8601 with offset, at most 5 minutes ahead; default: now."
    )
    location_id: Id | None = None
    attributes: Attributes = Field(default_factory=dict)

    def _details(self) -> dict[str, Any]:
        common = set(_Common.model_fields) | {"type", "customer_id", "external_id"}
        return self.model_dump(mode="json", exclude=common, exclude_none=True)

    def to_draft(self) -> InteractionDraft:
        return InteractionDraft(
            type=Kind(getattr(self, "type")),  # noqa: B009 - every variant has its literal
            occurred_at=self.occurred_at,
            channel=self.channel,
            location_id=self.location_id,
            attributes=dict(self.attributes),
            details=self._details(),
        )


class PurchaseBody(_Common):
    """Earns points: the configured rate per whole currency unit, times the tier multiplier."""

    type: Literal["purchase"]
    amount: Money
    currency: Currency
    order_id: Id = Field(description="Unique within the tenant: a repeat records nothing new.")
    items: Annotated[list[LineItem], Field(max_length=200)] | None = None
    coupon_code: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = Field(
        None,
        description="A coupon of the customer applied to this order: redeemed for it in the "
        "same write (422 if it is no coupon of the customer's, 409 if it is used or expired).",
    )


class RefundBody(_Common):
    """Reverses the order's points in proportion to the amount refunded."""

    type: Literal["refund"]
    order_id: Id
    amount: Annotated[Decimal, Field(gt=0, le=10**12, max_digits=16, decimal_places=4)] | None = (
        Field(None, description="Omit to refund whatever is left of the order.")
    )
    currency: Currency | None = None


class FeedbackBody(_Common):
    type: Literal["feedback"]
    rating: Annotated[int, Field(ge=1, le=5)] | None = None
    nps: Annotated[int, Field(ge=0, le=10)] | None = None
    text: Text | None = None

    @model_validator(mode="after")
    def _scored(self) -> FeedbackBody:
        if self.rating is None and self.nps is None:
            raise ValueError("give a rating (1-5), an nps score (0-10) or both")
        return self


class EventBody(_Common):
    type: Literal["app_event", "email_event", "sms_event"]
    name: EventName


class ContactBody(_Common):
    type: Literal["visit", "inquiry", "complaint"]
    text: Text | None = None


InteractionBody = Annotated[
    PurchaseBody | RefundBody | FeedbackBody | EventBody | ContactBody,
    Field(discriminator="type"),
]


class InteractionCreate(RootModel[InteractionBody]):
    """One interaction; `type` decides which fields apply."""

    def to_draft(self) -> InteractionDraft:
        return self.root.to_draft()


class _Addressed(RequestBody):
    customer_id: Id | None = None
    external_id: ExternalId | None = None


_ITEM = TypeAdapter(InteractionBody)


def _issues(error: ValidationError, index: int) -> list[FieldIssue]:
    return [
        FieldIssue(
            ".".join(["items", str(index), *(str(p) for p in detail["loc"])]),
            detail["msg"].removeprefix("Value error, "),
            detail["type"],
        )
        for detail in error.errors(include_url=False)
    ]


_LARGEST_BATCH = max(limits.max_batch_size for limits in PLAN_LIMITS.values())


class InteractionsBatch(RequestBody):
    """Up to the plan's batch size (100; enterprise 500) of interactions. Each item has the
    fields of a single interaction plus `customer_id` or `external_id`; an invalid item
    fails alone."""

    items: Annotated[list[dict[str, JsonValue]], Field(min_length=1, max_length=_LARGEST_BATCH)]

    def parsed(self) -> list[BatchItem | InvalidInput]:
        """Each item as a BatchItem, or the InvalidInput that explains why it is not one."""
        return [_parse_item(index, raw) for index, raw in enumerate(self.items)]


def _parse_item(index: int, raw: dict[str, JsonValue]) -> BatchItem | InvalidInput:
    fields = dict(raw)
    addressed = {k: fields.pop(k) for k in ("customer_id", "external_id") if k in fields}
    try:
        who = _Addressed.model_validate_json(json.dumps(addressed))
        body: _Common = _ITEM.validate_json(json.dumps(fields))
    except ValidationError as exc:
        return InvalidInput(_issues(exc, index))
    if (who.customer_id is None) == (who.external_id is None):
        return InvalidInput(
            [FieldIssue(f"items.{index}", "name the customer by customer_id or external_id")]
        )
    return BatchItem(
        draft=body.to_draft(), customer_id=who.customer_id, external_id=who.external_id
    )


class InteractionListQuery(PageQuery):
    type: str | None = Field(
        None,
        description=(
            "One timeline type, or several as a comma-separated list (`purchase,ticket_resolved`):"
            f" {', '.join(sorted(TIMELINE_TYPES))}. Default: every type."
        ),
        max_length=1000,
    )
    since: Instant | None = Field(None, alias="from", description="Inclusive.")
    until: Instant | None = Field(None, alias="to", description="Exclusive.")

    @field_validator("type")
    @classmethod
    def _known_types(cls, value: str | None) -> str | None:
        parse_types(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> InteractionListQuery:
        if self.since is not None and self.until is not None and self.until < self.since:
            raise ValueError("`to` must not be before `from`")
        return self

    @property
    def types(self) -> frozenset[str]:
        """The timeline types asked for; every type when none is named."""
        return parse_types(self.type) or TIMELINE_TYPES


class TicketMentionOut(BaseModel):
    """The ticket a ticket event entry belongs to, and what the event changed."""

    ticket_id: str
    seq: int = Field(description="The event's position in the ticket's history.")
    event: str = Field(description="created, transitioned, first_response, resolved or rated.")
    subject: str
    category: str
    priority: str
    actor_role: str
    from_status: str | None = None
    to_status: str | None = None
    score: int | None = Field(None, description="The rating (rated).")
    note: str | None = Field(None, description="The transition's note; staff keys only.")

    @classmethod
    def of(cls, mention: TicketMention) -> TicketMentionOut:
        return cls(**asdict(mention))


class CampaignMentionOut(BaseModel):
    """The campaign a campaign message entry belongs to, and what became of the message."""

    campaign_id: str
    status: str = Field(
        description="sent, held_out (the control group), no_consent, over_cap or offer_ended."
    )
    offer_id: str | None = None
    coupon_code: str | None = Field(None, description="The coupon the sent message issued.")
    delivered_at: datetime | None = Field(
        None, description="When the tenant's webhook took the message."
    )

    @classmethod
    def of(cls, mention: CampaignMention) -> CampaignMentionOut:
        return cls(**asdict(mention))


class TimelineEntryOut(InteractionRecord):
    """An interaction as recorded, a ticket event (`type` `ticket_opened`,
    `ticket_transitioned`, `ticket_first_response`, `ticket_resolved`, `ticket_rated`, with
    `ticket` set), or a campaign message (`type` `campaign_message`, with `campaign` set;
    `occurred_at` is the campaign run's time, `channel` the message's)."""

    ticket: TicketMentionOut | None = None
    campaign: CampaignMentionOut | None = None

    @classmethod
    def of_entry(cls, entry: TimelineEntry) -> TimelineEntryOut:
        return cls(
            id=entry.id,
            customer_id=entry.customer_id,
            type=entry.type,
            channel=entry.channel,
            occurred_at=entry.occurred_at,
            recorded_at=entry.recorded_at,
            location_id=entry.location_id,
            attributes=entry.attributes,
            points=entry.points,
            ticket=TicketMentionOut.of(entry.ticket) if entry.ticket else None,
            campaign=CampaignMentionOut.of(entry.campaign) if entry.campaign else None,
            **entry.details,
        )


class InteractionPage(BaseModel):
    items: list[TimelineEntryOut]
    next_cursor: str | None


class ProblemSummary(BaseModel):
    type: str
    title: str
    status: int
    detail: str


class BatchItemOut(BaseModel):
    index: int
    outcome: str = Field(description="created, duplicate (order already recorded) or failed.")
    interaction: InteractionRecord | None = None
    problem: ProblemSummary | None = Field(None, description="Why the item failed.")


class BatchResponse(BaseModel):
    created: int
    duplicates: int
    failed: int
    items: list[BatchItemOut]
