"""Ticket lifecycle and SLA arithmetic: pure functions driven by a controllable clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import AlreadyRated, Forbidden, IllegalTransition, TicketStateConflict
from chalicelib.domain.tenancy import Role
from chalicelib.domain.tickets import (
    TRANSITIONS,
    Actor,
    Category,
    Channel,
    EventType,
    NewTicket,
    Priority,
    SlaTarget,
    SlaTargets,
    Ticket,
    TicketPatch,
    TicketStatus,
    add_comment,
    allowed_transitions,
    apply_patch,
    next_due,
    open_ticket,
    rate,
    sla_view,
    transition,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
WINDOW = timedelta(days=7)
ADMIN = Actor("key_admin", Role.ADMIN)
STAFF = Actor("key_staff", Role.STAFF)
APP = Actor("key_app", Role.APP)
NORMAL = SlaTargets(first_response=8 * HOUR, resolution=72 * HOUR)

S = TicketStatus
LEGAL = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
EXPECTED_LEGAL = {
    (S.NEW, S.OPEN),
    (S.OPEN, S.PENDING),
    (S.PENDING, S.OPEN),
    (S.NEW, S.RESOLVED),
    (S.OPEN, S.RESOLVED),
    (S.PENDING, S.RESOLVED),
    (S.RESOLVED, S.CLOSED),
    (S.RESOLVED, S.OPEN),
    (S.NEW, S.CANCELLED),
    (S.OPEN, S.CANCELLED),
    (S.PENDING, S.CANCELLED),
}
# A path from `new` to each status, so a ticket can be put in any state.
PATH_TO = {
    S.NEW: [],
    S.OPEN: [S.OPEN],
    S.PENDING: [S.OPEN, S.PENDING],
    S.RESOLVED: [S.RESOLVED],
    S.CLOSED: [S.RESOLVED, S.CLOSED],
    S.CANCELLED: [S.CANCELLED],
}


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def advance(self, duration: timedelta) -> datetime:
        self.now += duration
        return self.now


def new_ticket(clock: Clock, targets: SlaTargets = NORMAL) -> Ticket:
    draft = NewTicket(
        customer_id="cus_01",
        category=Category.COMPLAINT,
        subject="Broken zip",
        description="The zip broke on day one.",
        channel=Channel.EMAIL,
    )
    return open_ticket("tkt_01", draft, targets, STAFF, clock.now).ticket


def ticket_in(status: TicketStatus, clock: Clock) -> Ticket:
    ticket = new_ticket(clock)
    for step in PATH_TO[status]:
        ticket = transition(ticket, step, ADMIN, clock.advance(HOUR), WINDOW).ticket
    return ticket


def test_the_transition_table_is_the_issues() -> None:
    assert LEGAL == EXPECTED_LEGAL


@pytest.mark.parametrize(("source", "target"), list(itertools.product(S, S)))
def test_every_pair_of_statuses(source: TicketStatus, target: TicketStatus) -> None:
    # Given a ticket in `source`
    clock = Clock()
    ticket = ticket_in(source, clock)

    # When an admin moves it to `target`
    if (source, target) in EXPECTED_LEGAL:
        change = transition(ticket, target, ADMIN, clock.advance(HOUR), WINDOW, note="why")

        # Then a legal move lands, recorded with actor, time and note
        assert change.ticket.status is target
        recorded = change.events[0]
        assert (recorded.type, recorded.from_status, recorded.to_status) == (
            EventType.TRANSITIONED,
            source,
            target,
        )
        assert (recorded.actor, recorded.at, recorded.note) == (ADMIN, clock.now, "why")
        assert recorded.seq == ticket.event_count + 1
    else:
        # Then an illegal one is refused, naming the legal moves
        with pytest.raises(IllegalTransition) as refused:
            transition(ticket, target, ADMIN, clock.advance(HOUR), WINDOW)
        assert refused.value.allowed == sorted(t.value for t in TRANSITIONS[source])


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        (S.OPEN, "an open ticket cannot move to closed"),
        (S.NEW, "a new ticket cannot move to closed"),
        (S.PENDING, "a pending ticket cannot move to closed"),
    ],
)
def test_an_illegal_move_is_named_in_plain_english(source: TicketStatus, detail: str) -> None:
    # Given a ticket that may not close yet
    clock = Clock()
    ticket = ticket_in(source, clock)

    # When it is asked to close, then the problem's detail reads as a sentence
    with pytest.raises(IllegalTransition) as refused:
        transition(ticket, S.CLOSED, ADMIN, clock.advance(HOUR), WINDOW)
    assert refused.value.detail == detail


@pytest.mark.parametrize("source", [S.NEW, S.OPEN, S.PENDING])
def test_only_an_admin_cancels(source: TicketStatus) -> None:
    clock = Clock()
    ticket = ticket_in(source, clock)

    with pytest.raises(Forbidden):
        transition(ticket, S.CANCELLED, STAFF, clock.advance(HOUR), WINDOW)
    assert S.CANCELLED not in allowed_transitions(ticket, STAFF, clock.now, WINDOW)
    assert S.CANCELLED in allowed_transitions(ticket, ADMIN, clock.now, WINDOW)


def test_reopening_is_allowed_within_the_window_only() -> None:
    clock = Clock()
    resolved = ticket_in(S.RESOLVED, clock)
    resolved_at = clock.now

    reopened = transition(resolved, S.OPEN, STAFF, resolved_at + WINDOW, WINDOW).ticket
    with pytest.raises(IllegalTransition) as late:
        transition(resolved, S.OPEN, STAFF, resolved_at + WINDOW + timedelta(seconds=1), WINDOW)

    assert reopened.status is S.OPEN and reopened.resolved_at is None
    assert late.value.allowed == ["closed"]
    assert "reopen window" in late.value.detail


def test_closed_and_cancelled_tickets_are_read_only() -> None:
    for status in (S.CLOSED, S.CANCELLED):
        clock = Clock()
        ticket = ticket_in(status, clock)

        with pytest.raises(TicketStateConflict):
            add_comment(ticket, "cmt_1", "hello?", False, STAFF, clock.advance(HOUR))
        with pytest.raises(TicketStateConflict):
            apply_patch(ticket, TicketPatch({"assignee": "ann"}), None, clock.now)
        assert allowed_transitions(ticket, ADMIN, clock.now, WINDOW) == frozenset()


def test_due_times_start_from_creation() -> None:
    clock = Clock()
    ticket = new_ticket(clock)

    view = sla_view(ticket, clock.advance(HOUR))

    assert view.first_response_due == T0 + 8 * HOUR
    assert view.resolution_due == T0 + 72 * HOUR
    assert view.breached == ()
    assert next_due(ticket) == T0 + 8 * HOUR


def test_a_missed_first_response_is_breached_at_every_read_after_the_due_time() -> None:
    clock = Clock()
    ticket = new_ticket(clock)

    assert sla_view(ticket, T0 + 8 * HOUR).breached == ()
    assert sla_view(ticket, T0 + 8 * HOUR + timedelta(seconds=1)).breached == (
        SlaTarget.FIRST_RESPONSE,
    )
    assert sla_view(ticket, T0 + 73 * HOUR).breached == (
        SlaTarget.FIRST_RESPONSE,
        SlaTarget.RESOLUTION,
    )


def test_the_merchants_first_public_comment_is_the_first_response() -> None:
    # Given a ticket with an internal note and a customer comment after 1 and 2 hours
    clock = Clock()
    ticket = new_ticket(clock)
    ticket = add_comment(ticket, "cmt_1", "check stock", True, STAFF, clock.advance(HOUR)).ticket
    ticket = add_comment(ticket, "cmt_2", "any news?", False, APP, clock.advance(HOUR)).ticket
    assert ticket.first_response_at is None

    # When staff answer publicly after 3 hours
    change = add_comment(ticket, "cmt_3", "on its way", False, STAFF, clock.advance(HOUR))

    # Then that is the first response, met, and the next due time is the resolution's
    answered = change.ticket
    assert answered.first_response_at == T0 + 3 * HOUR
    assert [e.type for e in change.events] == [EventType.FIRST_RESPONSE]
    assert sla_view(answered, T0 + 100 * HOUR).breached == (SlaTarget.RESOLUTION,)
    assert next_due(answered) == T0 + 72 * HOUR
    later = add_comment(answered, "cmt_4", "again", False, STAFF, clock.advance(HOUR))
    assert later.ticket.first_response_at == T0 + 3 * HOUR and later.events == ()


def test_time_spent_pending_does_not_count() -> None:
    # Given an answered ticket that is pending from hour 2 to hour 12
    clock = Clock()
    ticket = new_ticket(clock)
    ticket = transition(ticket, S.OPEN, STAFF, clock.advance(HOUR), WINDOW).ticket
    ticket = add_comment(ticket, "c", "need a photo", False, STAFF, clock.advance(HOUR)).ticket
    ticket = transition(ticket, S.PENDING, STAFF, clock.now, WINDOW).ticket

    # While pending, the resolution due time moves on with the clock
    assert sla_view(ticket, T0 + 12 * HOUR).resolution_due == T0 + 82 * HOUR
    assert next_due(ticket) is None

    # When the customer answers at hour 12 and the ticket reopens
    ticket = transition(ticket, S.OPEN, STAFF, clock.advance(10 * HOUR), WINDOW).ticket

    # Then the 10 pending hours are added to the resolution due time
    assert sla_view(ticket, clock.now).resolution_due == T0 + 82 * HOUR
    assert next_due(ticket) == T0 + 82 * HOUR
    resolved = transition(ticket, S.RESOLVED, STAFF, T0 + 81 * HOUR, WINDOW).ticket
    assert sla_view(resolved, T0 + 500 * HOUR).breached == ()
    assert sla_view(resolved, T0 + 500 * HOUR).resolution_due == T0 + 82 * HOUR


def test_pending_before_the_first_response_pauses_it_too() -> None:
    clock = Clock()
    ticket = transition(new_ticket(clock), S.OPEN, STAFF, clock.advance(HOUR), WINDOW).ticket
    ticket = transition(ticket, S.PENDING, STAFF, clock.advance(HOUR), WINDOW).ticket
    ticket = transition(ticket, S.OPEN, STAFF, clock.advance(20 * HOUR), WINDOW).ticket

    view = sla_view(ticket, clock.now)

    assert view.first_response_due == T0 + 28 * HOUR
    assert view.breached == ()
    answered = add_comment(ticket, "c", "hi", False, STAFF, T0 + 27 * HOUR).ticket
    assert sla_view(answered, T0 + 30 * HOUR).breached == ()


def test_a_breach_before_pending_stays_a_breach() -> None:
    clock = Clock()
    ticket = transition(new_ticket(clock), S.OPEN, STAFF, clock.advance(HOUR), WINDOW).ticket
    ticket = transition(ticket, S.PENDING, STAFF, clock.advance(9 * HOUR), WINDOW).ticket

    assert sla_view(ticket, clock.advance(100 * HOUR)).breached == (SlaTarget.FIRST_RESPONSE,)


def test_resolving_answers_and_stops_the_clock_and_reopening_restarts_it() -> None:
    clock = Clock()
    ticket = transition(new_ticket(clock), S.RESOLVED, STAFF, clock.advance(5 * HOUR), WINDOW)
    resolved = ticket.ticket

    assert [e.type for e in ticket.events] == [
        EventType.TRANSITIONED,
        EventType.FIRST_RESPONSE,
        EventType.RESOLVED,
    ]
    assert resolved.first_response_at == resolved.resolved_at == T0 + 5 * HOUR
    assert next_due(resolved) is None
    assert sla_view(resolved, T0 + 1000 * HOUR).breached == ()

    # Resolved for 24 hours, then reopened: that day does not count
    reopened = transition(resolved, S.OPEN, STAFF, clock.advance(24 * HOUR), WINDOW).ticket
    assert sla_view(reopened, clock.now).resolution_due == T0 + 96 * HOUR
    assert reopened.first_response_at == T0 + 5 * HOUR


def test_a_cancelled_ticket_keeps_the_breaches_it_had() -> None:
    clock = Clock()
    ticket = transition(new_ticket(clock), S.CANCELLED, ADMIN, clock.advance(9 * HOUR), WINDOW)

    assert sla_view(ticket.ticket, clock.advance(1000 * HOUR)).breached == (
        SlaTarget.FIRST_RESPONSE,
    )


def test_a_new_priority_brings_its_targets() -> None:
    clock = Clock()
    ticket = new_ticket(clock)
    urgent = SlaTargets(first_response=HOUR, resolution=8 * HOUR)

    changed = apply_patch(ticket, TicketPatch({"priority": Priority.URGENT}), urgent, clock.now)

    assert sla_view(changed, clock.now).first_response_due == T0 + HOUR
    assert next_due(changed) == T0 + HOUR


def test_an_unchanged_patch_is_no_change() -> None:
    clock = Clock()
    ticket = new_ticket(clock)

    assert (
        apply_patch(ticket, TicketPatch({"tags": frozenset()}), None, clock.advance(HOUR)) is ticket
    )


def test_app_keys_write_no_internal_notes() -> None:
    clock = Clock()

    with pytest.raises(Forbidden):
        add_comment(new_ticket(clock), "c", "psst", True, APP, clock.now)


@pytest.mark.parametrize("status", [S.NEW, S.OPEN, S.PENDING, S.CANCELLED])
def test_only_resolved_tickets_are_rated(status: TicketStatus) -> None:
    clock = Clock()

    with pytest.raises(TicketStateConflict):
        rate(ticket_in(status, clock), 5, None, APP, clock.now)


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED])
def test_a_ticket_is_rated_once(status: TicketStatus) -> None:
    clock = Clock()
    ticket = ticket_in(status, clock)

    rated = rate(ticket, 4, "quick", APP, clock.advance(HOUR))

    assert rated.ticket.rating is not None and rated.ticket.rating.score == 4
    assert [(e.type, e.score) for e in rated.events] == [(EventType.RATED, 4)]
    with pytest.raises(AlreadyRated):
        rate(rated.ticket, 5, None, APP, clock.advance(HOUR))
