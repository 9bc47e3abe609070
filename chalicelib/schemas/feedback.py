"""Feedback and NPS request parameters and response bodies (issue 15)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from chalicelib.domain import analytics
from chalicelib.domain.feedback import (
    CAMPAIGN_DETAIL,
    TICKET_DETAIL,
    NpsCategory,
    category_in,
)
from chalicelib.domain.interactions import Channel, Interaction, InteractionDraft, InteractionType
from chalicelib.domain.nps import NpsFigures
from chalicelib.domain.outcomes import InteractionRecord
from chalicelib.schemas.analytics import PeriodOut
from chalicelib.schemas.common import Day, Instant, PageQuery, QueryParameters, RequestBody
from chalicelib.schemas.interactions import Id, Text

_FROM = "First UTC day included (default: 29 days before `to`)."
_TO = "Last UTC day included (default: today)."


class FeedbackCreate(RequestBody):
    """An answer to a survey: an NPS score, a CSAT rating or both, recorded as a `feedback`
    interaction."""

    nps: Annotated[int, Field(ge=0, le=10)] | None = Field(
        None, description="How likely to recommend, 0-10."
    )
    csat: Annotated[int, Field(ge=1, le=5)] | None = Field(
        None, description="Satisfaction, 1-5 (the interaction's `rating`)."
    )
    comment: Text | None = None
    channel: Channel | None = None
    occurred_at: Instant | None = Field(
        None, description="ISO-8601 with offset, at most 5 minutes ahead; default: now."
    )
    campaign_id: Id | None = Field(
        None,
        description="The campaign whose survey this answers: a customer answers it once "
        "(409 `survey-already-answered`).",
    )
    ticket_id: Id | None = Field(None, description="The ticket this feedback is about.")

    @model_validator(mode="after")
    def _scored(self) -> FeedbackCreate:
        if self.nps is None and self.csat is None:
            raise ValueError("give nps (0-10), csat (1-5) or both")
        return self

    def to_draft(self) -> InteractionDraft:
        details = {
            "nps": self.nps,
            "rating": self.csat,
            "text": self.comment,
            CAMPAIGN_DETAIL: self.campaign_id,
            TICKET_DETAIL: self.ticket_id,
        }
        return InteractionDraft(
            type=InteractionType.FEEDBACK,
            occurred_at=self.occurred_at,
            channel=self.channel,
            details={name: value for name, value in details.items() if value is not None},
        )


class FeedbackOut(BaseModel):
    id: str = Field(description="The feedback interaction's id (on the customer's timeline).")
    customer_id: str
    occurred_at: datetime
    recorded_at: datetime
    channel: str | None
    nps: int | None
    csat: int | None
    category: NpsCategory | None = Field(description="From `nps`: 9-10 promoter, 0-6 detractor.")
    comment: str | None
    campaign_id: str | None
    ticket_id: str | None

    @classmethod
    def of(cls, interaction: Interaction) -> FeedbackOut:
        details = interaction.details
        return cls(
            id=interaction.id,
            customer_id=interaction.customer_id,
            occurred_at=interaction.occurred_at,
            recorded_at=interaction.recorded_at,
            channel=interaction.channel.value if interaction.channel else None,
            nps=details.get("nps"),
            csat=details.get("rating"),
            category=category_in(details),
            comment=details.get("text"),
            campaign_id=details.get(CAMPAIGN_DETAIL),
            ticket_id=details.get(TICKET_DETAIL),
        )

    @classmethod
    def recorded(cls, record: InteractionRecord, body: FeedbackCreate) -> FeedbackOut:
        return cls(
            id=record.id,
            customer_id=record.customer_id,
            occurred_at=record.occurred_at,
            recorded_at=record.recorded_at,
            channel=record.channel,
            nps=record.nps,
            csat=record.rating,
            category=category_in({"nps": record.nps}),
            comment=record.text,
            campaign_id=body.campaign_id,
            ticket_id=body.ticket_id,
        )


class FeedbackListQuery(PageQuery):
    category: NpsCategory | None = Field(
        None, description="detractor (0-6), passive (7-8) or promoter (9-10)."
    )
    from_: Day | None = Field(None, alias="from", description=_FROM)
    to: Day | None = Field(None, description=_TO)


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    next_cursor: str | None


class NpsQuery(QueryParameters):
    from_: Day | None = Field(None, alias="from", description=_FROM)
    to: Day | None = Field(None, description=_TO)
    granularity: analytics.Granularity = Field(
        analytics.Granularity.DAY, description="day, week (ISO, from Monday) or month."
    )
    segment_id: Id | None = Field(
        None,
        description="Only answers given while the customer was a member of this segment.",
    )
    campaign_id: Id | None = Field(None, description="Only answers to this campaign's survey.")


class NpsFiguresOut(BaseModel):
    start: date = Field(description="The period's first day (a bucket: its first day).")
    responses: int = Field(description="NPS answers.")
    promoters: int
    passives: int
    detractors: int
    nps: Decimal | None = Field(description="% promoters - % detractors; null: no answers.")
    csat_responses: int
    csat_average: Decimal | None = Field(description="Mean CSAT (1-5); null: no ratings.")

    @classmethod
    def of(cls, figures: NpsFigures) -> NpsFiguresOut:
        return cls(
            start=figures.start,
            responses=figures.responses,
            promoters=figures.promoters,
            passives=figures.passives,
            detractors=figures.detractors,
            nps=figures.nps,
            csat_responses=figures.csat_responses,
            csat_average=figures.csat_average,
        )


class NpsOut(BaseModel):
    granularity: analytics.Granularity
    segment_id: str | None
    campaign_id: str | None
    period: PeriodOut
    total: NpsFiguresOut = Field(description="The whole period.")
    points: list[NpsFiguresOut] = Field(description="Per day, ISO week or month, oldest first.")
