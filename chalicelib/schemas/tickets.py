"""Service ticket request and response bodies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from chalicelib.domain.customers import MAX_TAGS
from chalicelib.domain.ids import CUSTOMER_ID_PATTERN
from chalicelib.domain.tenancy import Role
from chalicelib.domain.tickets import (
    Category,
    Channel,
    Comment,
    EventType,
    NewTicket,
    Priority,
    SlaTarget,
    Ticket,
    TicketEvent,
    TicketPatch,
    TicketStatus,
    sla_view,
)
from chalicelib.schemas.common import PageQuery, RequestBody
from chalicelib.schemas.customers import Tag

CustomerId = Annotated[str, StringConstraints(pattern=CUSTOMER_ID_PATTERN.pattern)]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
OrderId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Assignee = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f#]+$")
]
Note = Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]


class TicketCreate(RequestBody):
    customer_id: CustomerId = Field(description="An existing customer of the tenant.")
    category: Category
    subject: Subject
    description: Description
    channel: Channel
    priority: Priority = Priority.NORMAL
    order_id: OrderId | None = None
    tags: Tags = Field(default_factory=list)

    def to_draft(self) -> NewTicket:
        return NewTicket(
            customer_id=self.customer_id,
            category=self.category,
            subject=self.subject,
            description=self.description,
            channel=self.channel,
            priority=self.priority,
            order_id=self.order_id,
            tags=frozenset(self.tags),
        )


class TicketUpdate(RequestBody):
    """Only the fields sent change; `assignee: null` unassigns."""

    priority: Priority | None = None
    assignee: Assignee | None = Field(None, description="Who works the ticket (agent id).")
    category: Category | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _only_assignee_clears(self) -> TicketUpdate:
        cleared = [
            name
            for name in ("priority", "category", "tags")
            if name in self.model_fields_set and getattr(self, name) is None
        ]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        return self

    def to_patch(self) -> TicketPatch:
        fields: dict[str, object] = {name: getattr(self, name) for name in self.model_fields_set}
        if "tags" in fields:
            fields["tags"] = frozenset(self.tags or ())
        return TicketPatch(fields)


class TransitionRequest(RequestBody):
    to: TicketStatus
    note: Note | None = Field(None, description="Why; kept with the transition (staff-only).")


class CommentCreate(RequestBody):
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    internal: bool = Field(False, description="An internal note: never shown to app keys.")


class RatingCreate(RequestBody):
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Note | None = None
    customer_id: CustomerId | None = Field(
        None, description="Who rates: required for app keys, and must be the ticket's customer."
    )


class TicketListQuery(PageQuery):
    """One listing at a time: `status` (optionally with `priority`), `assignee`,
    `customer_id`, or `at_risk=true` (optionally with `within_minutes`)."""

    status: TicketStatus | None = None
    priority: Priority | None = Field(None, description="Only with status.")
    assignee: Assignee | None = None
    customer_id: CustomerId | None = None
    at_risk: bool = Field(
        False, description="Tickets whose SLA clock runs and whose next due time is near."
    )
    within_minutes: int | None = Field(
        None, ge=1, le=30 * 24 * 60, description="The at-risk window (default 60)."
    )

    @model_validator(mode="after")
    def _one_listing(self) -> TicketListQuery:
        chosen = [
            name
            for name in ("status", "assignee", "customer_id")
            if getattr(self, name) is not None
        ] + (["at_risk"] if self.at_risk else [])
        if len(chosen) != 1:
            raise ValueError("give exactly one of status, assignee, customer_id or at_risk=true")
        if self.priority is not None and self.status is None:
            raise ValueError("priority filters a status listing: give status too")
        if self.within_minutes is not None and not self.at_risk:
            raise ValueError("within_minutes goes with at_risk=true")
        return self

    def due_within(self) -> timedelta | None:
        return timedelta(minutes=self.within_minutes or 60) if self.at_risk else None


class ActorOut(BaseModel):
    key_id: str
    role: Role


class RatingOut(BaseModel):
    score: int
    comment: str | None
    rated_at: datetime


class TicketOut(BaseModel):
    id: str
    customer_id: str
    category: Category
    subject: str
    description: str
    priority: Priority
    channel: Channel
    status: TicketStatus
    order_id: str | None
    tags: list[str]
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    created_by: ActorOut
    first_response_due: datetime = Field(description="Moves on while the ticket is pending.")
    resolution_due: datetime = Field(description="Moves on while the ticket is pending.")
    first_response_at: datetime | None
    resolved_at: datetime | None
    sla_breached: list[SlaTarget] = Field(description="The targets missed, as of this read.")
    rating: RatingOut | None
    comment_count: int
    version: int

    @classmethod
    def of(cls, ticket: Ticket, now: datetime) -> TicketOut:
        sla = sla_view(ticket, now)
        rating = ticket.rating
        return cls(
            id=ticket.id,
            customer_id=ticket.customer_id,
            category=ticket.category,
            subject=ticket.subject,
            description=ticket.description,
            priority=ticket.priority,
            channel=ticket.channel,
            status=ticket.status,
            order_id=ticket.order_id,
            tags=sorted(ticket.tags),
            assignee=ticket.assignee,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            created_by=ActorOut(key_id=ticket.created_by.key_id, role=ticket.created_by.role),
            first_response_due=sla.first_response_due,
            resolution_due=sla.resolution_due,
            first_response_at=ticket.first_response_at,
            resolved_at=ticket.resolved_at,
            sla_breached=list(sla.breached),
            rating=RatingOut(score=rating.score, comment=rating.comment, rated_at=rating.rated_at)
            if rating
            else None,
            comment_count=ticket.comment_count,
            version=ticket.version,
        )


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None


class CommentOut(BaseModel):
    id: str
    ticket_id: str
    body: str
    internal: bool
    author: ActorOut
    created_at: datetime

    @classmethod
    def of(cls, comment: Comment) -> CommentOut:
        return cls(
            id=comment.id,
            ticket_id=comment.ticket_id,
            body=comment.body,
            internal=comment.internal,
            author=ActorOut(key_id=comment.author.key_id, role=comment.author.role),
            created_at=comment.created_at,
        )


class CommentPage(BaseModel):
    items: list[CommentOut]
    next_cursor: str | None


class TicketEventOut(BaseModel):
    ticket_id: str
    customer_id: str
    seq: int
    type: EventType
    at: datetime
    actor: ActorOut
    from_status: TicketStatus | None
    to_status: TicketStatus | None
    note: str | None
    score: int | None

    @classmethod
    def of(cls, event: TicketEvent) -> TicketEventOut:
        return cls(
            ticket_id=event.ticket_id,
            customer_id=event.customer_id,
            seq=event.seq,
            type=event.type,
            at=event.at,
            actor=ActorOut(key_id=event.actor.key_id, role=event.actor.role),
            from_status=event.from_status,
            to_status=event.to_status,
            note=event.note,
            score=event.score,
        )


class TicketEventPage(BaseModel):
    items: list[TicketEventOut]
    next_cursor: str | None
