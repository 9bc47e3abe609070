"""Service ticket routes."""

from __future__ import annotations

from typing import Any

from chalicelib.api.routing import Call, Operations, Reply, etag_for
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.paging import PageRequest
from chalicelib.domain.tickets import Actor, Ticket
from chalicelib.schemas.common import PageQuery
from chalicelib.schemas.tickets import (
    CommentCreate,
    CommentOut,
    CommentPage,
    RatingCreate,
    TicketCreate,
    TicketEventOut,
    TicketEventPage,
    TicketListQuery,
    TicketOut,
    TicketPage,
    TicketUpdate,
    TransitionRequest,
)
from chalicelib.services import tickets as service

tickets_api = Operations(__name__)


def _actor(call: Call[Any, Any]) -> Actor:
    if call.principal is None:
        raise Forbidden("this route needs a tenant's API key")
    principal = call.principal
    return Actor(key_id=principal.key_id, role=principal.role, customer_id=principal.customer_id)


def _ticket_reply(ticket: Ticket, status: int = 200) -> Reply:
    return Reply(TicketOut.of(ticket, utc_now()), status, {"ETag": etag_for(ticket.version)})


@tickets_api.operation(
    "POST",
    "/v1/tickets",
    summary="Open a ticket",
    tag="tickets",
    body=TicketCreate,
    response=TicketOut,
    status=201,
)
def create_ticket(call: Call[TicketCreate, None]) -> Reply:
    """Opens a ticket (`status: new`) for an existing customer; its SLA targets come from
    the tenant's configuration for its priority."""
    ticket = service.open_ticket(call.tenant, call.body.to_draft(), _actor(call))
    reply = _ticket_reply(ticket, 201)
    reply.headers["Location"] = f"/v1/tickets/{ticket.id}"
    return reply


@tickets_api.operation(
    "GET",
    "/v1/tickets",
    summary="List tickets",
    tag="tickets",
    query=TicketListQuery,
    response=TicketPage,
)
def list_tickets(call: Call[None, TicketListQuery]) -> Reply:
    """Newest first by `status` (and `priority`), `assignee` or `customer_id`; with
    `at_risk=true`, the tickets whose SLA clock runs and whose next due time is within
    `within_minutes` (default 60), soonest first, overdue ones included."""
    query = call.query
    wanted = service.TicketFilter(
        status=query.status,
        priority=query.priority,
        assignee=query.assignee,
        customer_id=query.customer_id,
        due_within=query.due_within(),
    )
    page = service.find_tickets(call.tenant, wanted, PageRequest(query.limit, query.cursor))
    now = utc_now()
    return Reply(
        TicketPage(items=[TicketOut.of(t, now) for t in page.items], next_cursor=page.next_cursor)
    )


@tickets_api.operation(
    "GET",
    "/v1/tickets/{ticket_id}",
    summary="Get a ticket",
    tag="tickets",
    response=TicketOut,
    extra_responses=(304, 404),
)
def get_ticket(call: Call[None, None], ticket_id: str) -> Reply:
    """The ticket with its SLA state as of this read, and its ETag; `If-None-Match` with
    the current ETag answers 304 (the SLA fields may still have moved: a pending ticket's
    due times follow the clock)."""
    ticket = service.get_ticket(call.tenant, ticket_id, _actor(call).customer_id)
    etag = etag_for(ticket.version)
    if call.headers.get("if-none-match") == etag:
        return Reply(None, 304, {"ETag": etag})
    return _ticket_reply(ticket)


@tickets_api.operation(
    "PATCH",
    "/v1/tickets/{ticket_id}",
    summary="Update a ticket",
    tag="tickets",
    body=TicketUpdate,
    response=TicketOut,
    extra_responses=(404, 409, 412),
)
def update_ticket(call: Call[TicketUpdate, None], ticket_id: str) -> Reply:
    """Priority, assignee, category, tags. A new priority takes its SLA targets. Send
    `If-Match` to change only the version you read. Closed and cancelled tickets: 409."""
    ticket = service.update_ticket(
        call.tenant, ticket_id, call.body.to_patch(), call.if_match_version()
    )
    return _ticket_reply(ticket)


@tickets_api.operation(
    "POST",
    "/v1/tickets/{ticket_id}/transitions",
    summary="Move a ticket through its lifecycle",
    tag="tickets",
    body=TransitionRequest,
    response=TicketOut,
    extra_responses=(404, 409, 412),
)
def transition_ticket(call: Call[TransitionRequest, None], ticket_id: str) -> Reply:
    """`new → open`, `open ⇄ pending`, `new|open|pending → resolved`, `resolved → closed`,
    `resolved → open` (within the reopen window), `new|open|pending → cancelled` (admin).
    Anything else answers 409 listing `allowed_transitions`."""
    ticket = service.transition_ticket(
        call.tenant,
        ticket_id,
        call.body.to,
        call.body.note,
        _actor(call),
        call.if_match_version(),
    )
    return _ticket_reply(ticket)


@tickets_api.operation(
    "POST",
    "/v1/tickets/{ticket_id}/comments",
    summary="Comment on a ticket",
    tag="tickets",
    body=CommentCreate,
    response=CommentOut,
    status=201,
    extra_responses=(404, 409),
)
def create_comment(call: Call[CommentCreate, None], ticket_id: str) -> Reply:
    """The merchant's first public comment is the ticket's first response. App keys write
    public comments only (customer tokens: on their customer's tickets)."""
    comment = service.add_comment(
        call.tenant, ticket_id, call.body.body, call.body.internal, _actor(call)
    )
    return Reply(CommentOut.of(comment), 201)


@tickets_api.operation(
    "GET",
    "/v1/tickets/{ticket_id}/comments",
    summary="List a ticket's comments",
    tag="tickets",
    query=PageQuery,
    response=CommentPage,
    extra_responses=(404,),
)
def list_comments(call: Call[None, PageQuery], ticket_id: str) -> Reply:
    """Oldest first. Customer tokens never see internal notes."""
    page = service.list_comments(
        call.tenant, ticket_id, _actor(call), PageRequest(call.query.limit, call.query.cursor)
    )
    return Reply(
        CommentPage(items=[CommentOut.of(c) for c in page.items], next_cursor=page.next_cursor)
    )


@tickets_api.operation(
    "POST",
    "/v1/tickets/{ticket_id}/rating",
    summary="Rate a resolved ticket",
    tag="tickets",
    body=RatingCreate,
    response=TicketOut,
    status=201,
    extra_responses=(404, 409),
)
def rate_ticket(call: Call[RatingCreate, None], ticket_id: str) -> Reply:
    """Once per ticket, once it is resolved (or closed); a second rating answers 409."""
    body = call.body
    ticket = service.rate_ticket(
        call.tenant, ticket_id, body.score, body.comment, body.customer_id, _actor(call)
    )
    return _ticket_reply(ticket, 201)


@tickets_api.operation(
    "GET",
    "/v1/tickets/{ticket_id}/events",
    summary="A ticket's history",
    tag="tickets",
    query=PageQuery,
    response=TicketEventPage,
    extra_responses=(404,),
)
def list_events(call: Call[None, PageQuery], ticket_id: str) -> Reply:
    """Created, each transition (with actor, time and note), first response, resolved,
    rated; in order. The same events are on the customer's timeline."""
    page = service.list_ticket_events(
        call.tenant, ticket_id, PageRequest(call.query.limit, call.query.cursor)
    )
    return Reply(
        TicketEventPage(
            items=[TicketEventOut.of(e) for e in page.items], next_cursor=page.next_cursor
        )
    )
