"""Segment request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from chalicelib.domain.segments import Backfill, RfmScore, SegmentEvent, SegmentState
from chalicelib.schemas.common import RequestBody

if TYPE_CHECKING:
    from chalicelib.services.segments import SegmentSummary

SegmentName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
RULE_DESCRIPTION = (
    '`{"all": [...]}`, `{"any": [...]}`, `{"not": rule}` or a condition '
    '`{"field": ..., "op": ..., "value": ...}`. Fields: name, email, phone, '
    "external_id, gender, birthday, created_at, address.country, address.city, tags, "
    "segments, tier, points_balance, attributes.<key>, metrics.<metric>. Ops: eq, ne, gt, "
    "gte, lt, lte, in, contains (tags, segments), exists."
)


class SegmentBody(RequestBody):
    name: SegmentName
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    rule: dict[str, Any] = Field(description=RULE_DESCRIPTION)


class BackfillOut(BaseModel):
    status: str
    processed: int = Field(description="Customers evaluated so far.")
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, backfill: Backfill) -> BackfillOut:
        return cls(
            status=backfill.status.value,
            processed=backfill.processed,
            started_at=backfill.started_at,
            finished_at=backfill.finished_at,
        )


class SegmentOut(BaseModel):
    id: str
    kind: str = Field(description="built_in or custom")
    name: str
    description: str | None
    members: int
    rule: dict[str, Any] | None = None
    backfill: BackfillOut | None = None
    version: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, summary: SegmentSummary) -> SegmentOut:
        return cls(
            id=summary.id,
            kind=summary.kind,
            name=summary.name,
            description=summary.description,
            members=summary.members,
            rule=summary.rule,
            backfill=BackfillOut.of(summary.backfill) if summary.backfill else None,
            version=summary.version,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
        )


class SegmentList(BaseModel):
    items: list[SegmentOut]


class MemberPage(BaseModel):
    items: list[str] = Field(description="Customer ids.")
    next_cursor: str | None


class RfmOut(BaseModel):
    recency: int
    frequency: int
    monetary: int

    @classmethod
    def of(cls, score: RfmScore) -> RfmOut:
        return cls(recency=score.recency, frequency=score.frequency, monetary=score.monetary)


class CustomerSegmentsOut(BaseModel):
    customer_id: str
    segments: list[str]
    rfm: RfmOut | None
    next_change: str | None = Field(description="Next day the memberships change by time.")

    @classmethod
    def of(cls, customer_id: str, state: SegmentState | None) -> CustomerSegmentsOut:
        if state is None:
            return cls(customer_id=customer_id, segments=[], rfm=None, next_change=None)
        return cls(
            customer_id=customer_id,
            segments=sorted(state.segments),
            rfm=RfmOut.of(state.rfm) if state.rfm else None,
            next_change=state.next_change.isoformat() if state.next_change else None,
        )


class EventOut(BaseModel):
    id: str
    type: str = Field(description="segment.entered, segment.exited or audit.alert")
    segment_id: str | None
    customer_id: str | None
    occurred_at: datetime
    status: str = Field(description="pending, delivered or failed")
    attempts: int = Field(description="Deliveries tried (each with its own retries).")
    last_error: str | None
    delivered_at: datetime | None
    replays: int

    @classmethod
    def of(cls, event: SegmentEvent) -> EventOut:
        return cls(
            id=event.id,
            type=event.type,
            segment_id=event.segment_id,
            customer_id=event.customer_id,
            occurred_at=event.occurred_at,
            status=event.status.value,
            attempts=event.attempts,
            last_error=event.last_error,
            delivered_at=event.delivered_at,
            replays=event.replays,
        )


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None
