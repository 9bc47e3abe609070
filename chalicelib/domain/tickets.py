"""Service tickets: the record, its lifecycle (the transition table) and its SLA clock.

Everything here is pure: functions take `now` and return new values, so the rules are
tested with a controllable clock and no I/O.

The SLA clock runs while a ticket is `new` or `open` and stands still otherwise (`pending`
waits on the customer; `resolved`, `closed` and `cancelled` are done). A due time is
`created_at + target + time the clock stood still`; a target is missed when the running
time at its milestone (or now, before the milestone) exceeds it. The first response is the
first public comment by the merchant's side, or the resolution if that comes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from chalicelib.domain.errors import (
    AlreadyRated,
    Forbidden,
    IllegalTransition,
    TicketStateConflict,
)
from chalicelib.domain.tenancy import Role


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Category(StrEnum):
    COMPLAINT = "complaint"
    INQUIRY = "inquiry"
    AFTER_SALES = "after_sales"
    RETURN = "return"
    OTHER = "other"


class Channel(StrEnum):
    ONLINE = "online"
    STORE = "store"
    APP = "app"
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"
    OTHER = "other"


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class EventType(StrEnum):
    CREATED = "created"
    TRANSITIONED = "transitioned"
    FIRST_RESPONSE = "first_response"
    RESOLVED = "resolved"
    RATED = "rated"


OPEN_STATES: Final = frozenset({TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING})
READ_ONLY_STATES: Final = frozenset({TicketStatus.CLOSED, TicketStatus.CANCELLED})
CLOCK_RUNNING_STATES: Final = frozenset({TicketStatus.NEW, TicketStatus.OPEN})
RATEABLE_STATES: Final = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})

TRANSITIONS: Final[dict[TicketStatus, frozenset[TicketStatus]]] = {
    TicketStatus.NEW: frozenset({TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.CANCELLED}),
    TicketStatus.OPEN: frozenset(
        {TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CANCELLED}
    ),
    TicketStatus.PENDING: frozenset(
        {TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.CANCELLED}
    ),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.OPEN}),
    TicketStatus.CLOSED: frozenset(),
    TicketStatus.CANCELLED: frozenset(),
}
"""Every legal (from, to) pair. Cancelling is further limited to admins, reopening
(`resolved → open`) to the tenant's reopen window."""

MERCHANT_ROLES: Final = frozenset({Role.ADMIN, Role.STAFF})
"""Roles that speak for the merchant: their public comments answer the customer."""
INTERNAL_NOTE_READERS: Final = frozenset({Role.ADMIN, Role.STAFF, Role.READONLY})


@dataclass(frozen=True)
class Actor:
    """Who made a change: the API key and its role; for a customer token, also the one
    customer whose tickets it may reach."""

    key_id: str
    role: Role
    customer_id: str | None = None


@dataclass(frozen=True)
class SlaTargets:
    first_response: timedelta
    resolution: timedelta


@dataclass(frozen=True)
class Milestone:
    """A moment the SLA measures to, and how long the clock had stood still by then."""

    at: datetime
    paused: timedelta


@dataclass(frozen=True)
class SlaClock:
    targets: SlaTargets
    paused: timedelta = timedelta(0)
    stopped_at: datetime | None = None
    first_response: Milestone | None = None
    resolution: Milestone | None = None

    def paused_until(self, now: datetime) -> timedelta:
        """Time the clock has stood still, including the stop under way."""
        ongoing = now - self.stopped_at if self.stopped_at is not None else timedelta(0)
        return self.paused + ongoing

    def settled(self, now: datetime) -> SlaClock:
        """The same clock with the stop under way (if any) closed at `now`."""
        return replace(self, paused=self.paused_until(now), stopped_at=None)


@dataclass(frozen=True)
class Rating:
    score: int
    comment: str | None
    rated_at: datetime
    actor: Actor


@dataclass(frozen=True)
class Ticket:
    id: str
    customer_id: str
    category: Category
    subject: str
    description: str
    priority: Priority
    channel: Channel
    status: TicketStatus
    created_at: datetime
    updated_at: datetime
    created_by: Actor
    clock: SlaClock
    version: int = 0
    order_id: str | None = None
    tags: frozenset[str] = frozenset()
    assignee: str | None = None
    rating: Rating | None = None
    comment_count: int = 0
    event_count: int = 0

    @property
    def first_response_at(self) -> datetime | None:
        return self.clock.first_response.at if self.clock.first_response else None

    @property
    def resolved_at(self) -> datetime | None:
        return self.clock.resolution.at if self.clock.resolution else None


@dataclass(frozen=True)
class TicketEvent:
    """One entry of the ticket's history; also an entry of the customer's timeline."""

    ticket_id: str
    customer_id: str
    seq: int
    type: EventType
    at: datetime
    actor: Actor
    from_status: TicketStatus | None = None
    to_status: TicketStatus | None = None
    note: str | None = None
    score: int | None = None


@dataclass(frozen=True)
class Comment:
    id: str
    ticket_id: str
    body: str
    internal: bool
    author: Actor
    created_at: datetime


@dataclass(frozen=True)
class TicketChange:
    """A ticket as it should be stored, with the events (and comment) written alongside."""

    ticket: Ticket
    events: tuple[TicketEvent, ...] = ()
    comment: Comment | None = None


@dataclass(frozen=True)
class NewTicket:
    customer_id: str
    category: Category
    subject: str
    description: str
    channel: Channel
    priority: Priority = Priority.NORMAL
    order_id: str | None = None
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TicketPatch:
    """Fields to replace; a field not named keeps its value (`assignee` None unassigns)."""

    fields: dict[str, object] = field(default_factory=dict)


PATCHABLE_FIELDS: Final = frozenset({"priority", "assignee", "category", "tags"})


# SLA arithmetic


@dataclass(frozen=True)
class SlaView:
    first_response_due: datetime
    resolution_due: datetime
    breached: tuple[SlaTarget, ...]


def _due(
    created_at: datetime, target: timedelta, milestone: Milestone | None, paused: timedelta
) -> datetime:
    return created_at + target + (milestone.paused if milestone else paused)


def _missed(
    created_at: datetime,
    target: timedelta,
    milestone: Milestone | None,
    now: datetime,
    paused: timedelta,
) -> bool:
    if milestone is not None:
        running = milestone.at - created_at - milestone.paused
    else:
        running = now - created_at - paused
    return running > target


def sla_view(ticket: Ticket, now: datetime) -> SlaView:
    """Due times and missed targets as of `now`. While the clock stands still without
    reaching a milestone (pending), the due times move on with `now`."""
    clock = ticket.clock
    paused = clock.paused_until(now)
    targets = (
        (SlaTarget.FIRST_RESPONSE, clock.targets.first_response, clock.first_response),
        (SlaTarget.RESOLUTION, clock.targets.resolution, clock.resolution),
    )
    breached = tuple(
        name
        for name, target, milestone in targets
        if _missed(ticket.created_at, target, milestone, now, paused)
    )
    return SlaView(
        first_response_due=_due(
            ticket.created_at, clock.targets.first_response, clock.first_response, paused
        ),
        resolution_due=_due(ticket.created_at, clock.targets.resolution, clock.resolution, paused),
        breached=breached,
    )


def next_due(ticket: Ticket) -> datetime | None:
    """The earliest due time not yet met, for a ticket whose clock runs; None otherwise.

    Independent of `now`: while the clock runs, due times stand still."""
    if ticket.status not in CLOCK_RUNNING_STATES:
        return None
    view = sla_view(ticket, ticket.updated_at)
    if ticket.clock.first_response is None:
        return min(view.first_response_due, view.resolution_due)
    return view.resolution_due


# Creating and changing tickets


def open_ticket(
    ticket_id: str, draft: NewTicket, targets: SlaTargets, actor: Actor, now: datetime
) -> TicketChange:
    ticket = Ticket(
        id=ticket_id,
        customer_id=draft.customer_id,
        category=draft.category,
        subject=draft.subject,
        description=draft.description,
        priority=draft.priority,
        channel=draft.channel,
        status=TicketStatus.NEW,
        created_at=now,
        updated_at=now,
        created_by=actor,
        clock=SlaClock(targets=targets),
        order_id=draft.order_id,
        tags=draft.tags,
    )
    return _with_events(ticket, now, actor, [_Happened(EventType.CREATED, to_status=ticket.status)])


@dataclass(frozen=True)
class _Happened:
    """An event before it is numbered and stamped."""

    type: EventType
    from_status: TicketStatus | None = None
    to_status: TicketStatus | None = None
    note: str | None = None
    score: int | None = None


def _with_events(
    ticket: Ticket,
    now: datetime,
    actor: Actor,
    happened: list[_Happened],
    comment: Comment | None = None,
) -> TicketChange:
    """The change, with its events numbered after the ticket's last one."""
    events = tuple(
        TicketEvent(
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            seq=ticket.event_count + offset + 1,
            type=event.type,
            at=now,
            actor=actor,
            from_status=event.from_status,
            to_status=event.to_status,
            note=event.note,
            score=event.score,
        )
        for offset, event in enumerate(happened)
    )
    changed = replace(ticket, event_count=ticket.event_count + len(events))
    return TicketChange(changed, events, comment)


def ensure_writable(ticket: Ticket) -> None:
    if ticket.status in READ_ONLY_STATES:
        raise TicketStateConflict(f"ticket {ticket.id} is {ticket.status} and read-only")


def apply_patch(
    ticket: Ticket, patch: TicketPatch, targets: SlaTargets | None, now: datetime
) -> Ticket:
    """Replace the patched fields; `targets` (for a new priority) replace the SLA targets."""
    ensure_writable(ticket)
    unknown = set(patch.fields) - PATCHABLE_FIELDS
    if unknown:
        raise ValueError(f"not patchable: {sorted(unknown)}")
    changed = replace(ticket, **patch.fields)  # type: ignore[arg-type]
    if targets is not None:
        changed = replace(changed, clock=replace(changed.clock, targets=targets))
    if changed == ticket:
        return ticket
    return replace(changed, updated_at=now)


def reopen_deadline(ticket: Ticket, reopen_window: timedelta) -> datetime | None:
    return ticket.resolved_at + reopen_window if ticket.resolved_at else None


def allowed_transitions(
    ticket: Ticket, actor: Actor, now: datetime, reopen_window: timedelta
) -> frozenset[TicketStatus]:
    """What this actor may move the ticket to now."""
    allowed = set(TRANSITIONS[ticket.status])
    if actor.role is not Role.ADMIN:
        allowed.discard(TicketStatus.CANCELLED)
    deadline = reopen_deadline(ticket, reopen_window)
    if ticket.status is TicketStatus.RESOLVED and (deadline is None or now > deadline):
        allowed.discard(TicketStatus.OPEN)
    return frozenset(allowed)


def _check_transition(
    ticket: Ticket, to: TicketStatus, actor: Actor, now: datetime, reopen_window: timedelta
) -> None:
    allowed = allowed_transitions(ticket, actor, now, reopen_window)
    if to in allowed:
        return
    listed = [status.value for status in sorted(allowed)]
    if to is TicketStatus.CANCELLED and to in TRANSITIONS[ticket.status]:
        raise Forbidden("only an admin key may cancel a ticket")
    if ticket.status is TicketStatus.RESOLVED and to is TicketStatus.OPEN:
        days = reopen_window.days
        raise IllegalTransition(
            ticket.status,
            to,
            listed,
            f"the reopen window ({days} days after resolution) has passed",
        )
    raise IllegalTransition(ticket.status, to, listed)


def _moved_clock(ticket: Ticket, to: TicketStatus, now: datetime) -> SlaClock:
    clock = ticket.clock.settled(now)
    if to is TicketStatus.OPEN and ticket.status is TicketStatus.RESOLVED:
        clock = replace(clock, resolution=None)
    if to is TicketStatus.RESOLVED:
        reached = Milestone(at=now, paused=clock.paused)
        clock = replace(clock, resolution=reached, first_response=clock.first_response or reached)
    if to not in CLOCK_RUNNING_STATES:
        clock = replace(clock, stopped_at=now)
    return clock


def transition(
    ticket: Ticket,
    to: TicketStatus,
    actor: Actor,
    now: datetime,
    reopen_window: timedelta,
    note: str | None = None,
) -> TicketChange:
    """Move the ticket to `to`, or raise IllegalTransition naming the legal moves."""
    _check_transition(ticket, to, actor, now, reopen_window)
    clock = _moved_clock(ticket, to, now)
    moved = replace(ticket, status=to, clock=clock, updated_at=now)
    happened = [_Happened(EventType.TRANSITIONED, ticket.status, to, note)]
    if ticket.clock.first_response is None and clock.first_response is not None:
        happened.append(_Happened(EventType.FIRST_RESPONSE))
    if to is TicketStatus.RESOLVED:
        happened.append(_Happened(EventType.RESOLVED))
    return _with_events(moved, now, actor, happened)


def add_comment(
    ticket: Ticket, comment_id: str, body: str, internal: bool, actor: Actor, now: datetime
) -> TicketChange:
    """A comment; the merchant's first public one is the first response."""
    ensure_writable(ticket)
    if internal and actor.role not in MERCHANT_ROLES:
        raise Forbidden("only the merchant's staff may write internal notes")
    comment = Comment(comment_id, ticket.id, body, internal, actor, now)
    changed = replace(ticket, comment_count=ticket.comment_count + 1, updated_at=now)
    happened: list[_Happened] = []
    responds = not internal and actor.role in MERCHANT_ROLES
    if responds and ticket.clock.first_response is None:
        reached = Milestone(at=now, paused=ticket.clock.paused_until(now))
        changed = replace(changed, clock=replace(changed.clock, first_response=reached))
        happened.append(_Happened(EventType.FIRST_RESPONSE))
    return _with_events(changed, now, actor, happened, comment)


def rate(
    ticket: Ticket, score: int, comment: str | None, actor: Actor, now: datetime
) -> TicketChange:
    """Once per ticket, after resolution (a closed ticket can still be rated)."""
    if ticket.rating is not None:
        raise AlreadyRated(f"ticket {ticket.id} was already rated")
    if ticket.status not in RATEABLE_STATES:
        raise TicketStateConflict(
            f"ticket {ticket.id} is {ticket.status}; it can be rated once resolved"
        )
    if not 1 <= score <= 5:
        raise ValueError("score must be 1-5")
    rated = replace(ticket, rating=Rating(score, comment, now, actor), updated_at=now)
    return _with_events(rated, now, actor, [_Happened(EventType.RATED, score=score)])
