"""Ticket repository: tickets, their copies under the customer, comments and events.

Every change of a ticket is one transaction: the ticket (guarded by its version), its copy
in the customer's partition, the events it caused and the comment that caused it, if any.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pynamodb.models import Model

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import page_of
from chalicelib.dal.models import (
    CustomerTicketItem,
    TicketCommentItem,
    TicketEventItem,
    TicketFields,
    TicketItem,
)
from chalicelib.dal.transactions import ConditionsFailed, LabelledTransaction, commit_with_retry
from chalicelib.domain.clock import sortable_timestamp
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import Role, TenantId
from chalicelib.domain.tickets import (
    Actor,
    Category,
    Channel,
    Comment,
    EventType,
    Milestone,
    Priority,
    Rating,
    SlaClock,
    SlaTargets,
    Ticket,
    TicketChange,
    TicketEvent,
    TicketStatus,
    next_due,
)

_TICKET_LABEL = "ticket"
_M = TypeVar("_M", bound=Model)
_ONE_MICROSECOND = timedelta(microseconds=1)


def _us(duration: timedelta) -> int:
    return duration // _ONE_MICROSECOND


def _duration(value: float | None) -> timedelta:
    return timedelta(microseconds=int(value or 0))


def _created_key(ticket: Ticket) -> str:
    return f"{sortable_timestamp(ticket.created_at)}#{ticket.id}"


def _fill(item: TicketFields, tenant: TenantId, ticket: Ticket) -> None:
    clock = ticket.clock
    item.tenant_id = tenant
    item.ticket_id = ticket.id
    item.customer_id = ticket.customer_id
    item.category = ticket.category.value
    item.subject = ticket.subject
    item.description = ticket.description
    item.priority = ticket.priority.value
    item.channel = ticket.channel.value
    item.status = ticket.status.value
    item.order_id = ticket.order_id
    item.tags = set(ticket.tags) or None
    item.assignee = ticket.assignee
    item.created_at = ticket.created_at
    item.updated_at = ticket.updated_at
    item.created_by_key = ticket.created_by.key_id
    item.created_by_role = ticket.created_by.role.value
    item.first_response_target_us = _us(clock.targets.first_response)
    item.resolution_target_us = _us(clock.targets.resolution)
    item.paused_us = _us(clock.paused)
    item.clock_stopped_at = clock.stopped_at
    item.first_response_at = clock.first_response.at if clock.first_response else None
    item.first_response_paused_us = (
        _us(clock.first_response.paused) if clock.first_response else None
    )
    item.resolved_at = clock.resolution.at if clock.resolution else None
    item.resolution_paused_us = _us(clock.resolution.paused) if clock.resolution else None
    item.next_due_at = next_due(ticket)
    item.rating = _rating_map(ticket.rating)
    item.comment_count = ticket.comment_count
    item.event_count = ticket.event_count


def _rating_map(rating: Rating | None) -> dict[str, object] | None:
    if rating is None:
        return None
    values: dict[str, object] = {
        "score": rating.score,
        "comment": rating.comment,
        "rated_at": rating.rated_at.isoformat(),
        "actor_key": rating.actor.key_id,
        "actor_role": rating.actor.role.value,
    }
    return {key: value for key, value in values.items() if value is not None}


def _ticket_item(tenant: TenantId, ticket: Ticket, version: int | None) -> TicketItem:
    item = TicketItem(pk=keys.ticket_pk(tenant, ticket.id), sk=keys.TICKET_SK)
    _fill(item, tenant, ticket)
    item.gsi1pk = keys.tickets_by_status_pk(tenant, ticket.status)
    item.gsi1sk = _created_key(ticket)
    item.gsi3pk = keys.tickets_by_status_priority_pk(tenant, ticket.status, ticket.priority)
    item.gsi3sk = _created_key(ticket)
    due = next_due(ticket)
    item.gsi4pk = keys.tickets_due_pk(tenant) if due else None
    item.gsi4sk = f"{sortable_timestamp(due)}#{ticket.id}" if due else None
    if version is not None:
        item.version = version
    return item


def _customer_copy(tenant: TenantId, ticket: Ticket, version: int) -> CustomerTicketItem:
    item = CustomerTicketItem(
        pk=keys.customer_pk(tenant, ticket.customer_id),
        sk=keys.customer_ticket_sk(sortable_timestamp(ticket.created_at), ticket.id),
    )
    _fill(item, tenant, ticket)
    if ticket.assignee is not None:
        item.gsi4pk = keys.tickets_by_assignee_pk(tenant, ticket.assignee)
        item.gsi4sk = _created_key(ticket)
    item.version = version
    return item


def _event_item(tenant: TenantId, ticket: Ticket, event: TicketEvent) -> TicketEventItem:
    return TicketEventItem(
        pk=keys.customer_pk(tenant, event.customer_id),
        sk=keys.ticket_event_sk(sortable_timestamp(event.at), event.ticket_id, event.seq),
        gsi1pk=keys.ticket_events_pk(tenant, event.ticket_id),
        gsi1sk=f"{event.seq:06d}",
        tenant_id=tenant,
        ticket_id=event.ticket_id,
        customer_id=event.customer_id,
        seq=event.seq,
        type=event.type.value,
        occurred_at=event.at,
        actor_key=event.actor.key_id,
        actor_role=event.actor.role.value,
        from_status=event.from_status.value if event.from_status else None,
        to_status=event.to_status.value if event.to_status else None,
        note=event.note,
        score=event.score,
        subject=ticket.subject,
        category=ticket.category.value,
        priority=ticket.priority.value,
    )


def _comment_item(tenant: TenantId, comment: Comment) -> TicketCommentItem:
    at = sortable_timestamp(comment.created_at)
    return TicketCommentItem(
        pk=keys.ticket_pk(tenant, comment.ticket_id),
        sk=keys.ticket_comment_sk(at, comment.id),
        gsi3pk=None
        if comment.internal
        else keys.ticket_public_comments_pk(tenant, comment.ticket_id),
        gsi3sk=None if comment.internal else f"{at}#{comment.id}",
        tenant_id=tenant,
        ticket_id=comment.ticket_id,
        comment_id=comment.id,
        body=comment.body,
        internal=comment.internal,
        author_key=comment.author.key_id,
        author_role=comment.author.role.value,
        created_at=comment.created_at,
    )


def _milestone(at: datetime | None, paused_us: float | None) -> Milestone | None:
    return Milestone(at=at, paused=_duration(paused_us)) if at is not None else None


def _to_rating(value: Any) -> Rating | None:
    if value is None:
        return None
    data = value.as_dict() if hasattr(value, "as_dict") else dict(value)
    return Rating(
        score=int(data["score"]),
        comment=data.get("comment"),
        rated_at=datetime.fromisoformat(data["rated_at"]),
        actor=Actor(data["actor_key"], Role(data["actor_role"])),
    )


def ticket_from_item(item: TicketFields) -> Ticket:
    clock = SlaClock(
        targets=SlaTargets(
            first_response=_duration(item.first_response_target_us),
            resolution=_duration(item.resolution_target_us),
        ),
        paused=_duration(item.paused_us),
        stopped_at=item.clock_stopped_at,
        first_response=_milestone(item.first_response_at, item.first_response_paused_us),
        resolution=_milestone(item.resolved_at, item.resolution_paused_us),
    )
    return Ticket(
        id=item.ticket_id,
        customer_id=item.customer_id,
        category=Category(item.category),
        subject=item.subject,
        description=item.description,
        priority=Priority(item.priority),
        channel=Channel(item.channel),
        status=TicketStatus(item.status),
        created_at=item.created_at,
        updated_at=item.updated_at,
        created_by=Actor(item.created_by_key, Role(item.created_by_role)),
        clock=clock,
        version=int(getattr(item, "version", None) or 0),
        order_id=item.order_id,
        tags=frozenset(item.tags or ()),
        assignee=item.assignee,
        rating=_to_rating(item.rating),
        comment_count=int(item.comment_count or 0),
        event_count=int(item.event_count or 0),
    )


def ticket_event_from_item(item: TicketEventItem) -> TicketEvent:
    return TicketEvent(
        ticket_id=item.ticket_id,
        customer_id=item.customer_id,
        seq=int(item.seq),
        type=EventType(item.type),
        at=item.occurred_at,
        actor=Actor(item.actor_key, Role(item.actor_role)),
        from_status=TicketStatus(item.from_status) if item.from_status else None,
        to_status=TicketStatus(item.to_status) if item.to_status else None,
        note=item.note,
        score=int(item.score) if item.score is not None else None,
    )


def comment_from_item(item: TicketCommentItem) -> Comment:
    return Comment(
        id=item.comment_id,
        ticket_id=item.ticket_id,
        body=item.body,
        internal=bool(item.internal),
        author=Actor(item.author_key, Role(item.author_role)),
        created_at=item.created_at,
    )


def save_ticket(tenant: TenantId, change: TicketChange, stored_version: int | None) -> Ticket:
    """Write the change in one transaction; `stored_version` None creates the ticket.

    Raises ConcurrentModification when the stored ticket is no longer at `stored_version`
    (or, for a new ticket, already exists)."""
    bound_settings()
    ticket = change.ticket
    new_version = (stored_version or 0) + 1

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        transaction.put(_TICKET_LABEL, _ticket_item(tenant, ticket, stored_version))
        transaction.put("customer_copy", _customer_copy(tenant, ticket, new_version))
        for event in change.events:
            transaction.put(
                f"event:{event.seq}",
                _event_item(tenant, ticket, event),
                condition=TicketEventItem.pk.does_not_exist(),
            )
        if change.comment is not None:
            transaction.put(
                "comment",
                _comment_item(tenant, change.comment),
                condition=TicketCommentItem.pk.does_not_exist(),
            )
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        raise ConcurrentModification(
            f"ticket {ticket.id} was changed by another request since it was read"
        ) from error
    return _with_version(ticket, new_version)


def _with_version(ticket: Ticket, version: int) -> Ticket:
    return replace(ticket, version=version)


def get_ticket(tenant: TenantId, ticket_id: str) -> Ticket | None:
    bound_settings()
    try:
        item = TicketItem.get(
            keys.ticket_pk(tenant, ticket_id), keys.TICKET_SK, consistent_read=True
        )
    except TicketItem.DoesNotExist:
        return None
    return ticket_from_item(item)


def list_by_status(
    tenant: TenantId, status: TicketStatus, priority: Priority | None, page: PageRequest
) -> Page[Ticket]:
    """Newest first: one Query on gsi1 (status) or gsi3 (status and priority)."""
    bound_settings()
    if priority is None:
        items, cursor = page_of(
            tenant,
            f"tickets:status:{status}",
            page,
            lambda start, limit: TicketItem.by_status.query(
                keys.tickets_by_status_pk(tenant, status),
                scan_index_forward=False,
                limit=limit,
                page_size=limit,
                last_evaluated_key=start,
            ),
            ("gsi1pk", "gsi1sk"),
        )
    else:
        items, cursor = page_of(
            tenant,
            f"tickets:status:{status}:priority:{priority}",
            page,
            lambda start, limit: TicketItem.by_status_and_priority.query(
                keys.tickets_by_status_priority_pk(tenant, status, priority),
                scan_index_forward=False,
                limit=limit,
                page_size=limit,
                last_evaluated_key=start,
            ),
            ("gsi3pk", "gsi3sk"),
        )
    return Page([ticket_from_item(item) for item in items], cursor)


def list_by_customer(tenant: TenantId, customer_id: str, page: PageRequest) -> Page[Ticket]:
    """Newest first: one Query of the customer's partition (the ticket copies)."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        f"tickets:customer:{customer_id}",
        page,
        lambda start, limit: CustomerTicketItem.query(
            keys.customer_pk(tenant, customer_id),
            CustomerTicketItem.sk.startswith(keys.CUSTOMER_TICKET_PREFIX),
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        (),
    )
    return Page([ticket_from_item(item) for item in items], cursor)


def list_by_assignee(tenant: TenantId, assignee: str, page: PageRequest) -> Page[Ticket]:
    """Newest first: one Query on gsi4 over the customer-partition copies."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        f"tickets:assignee:{assignee}",
        page,
        lambda start, limit: CustomerTicketItem.by_assignee.query(
            keys.tickets_by_assignee_pk(tenant, assignee),
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        ("gsi4pk", "gsi4sk"),
    )
    return Page([ticket_from_item(item) for item in items], cursor)


def list_due_within(
    tenant: TenantId, now: datetime, within: timedelta, page: PageRequest
) -> Page[Ticket]:
    """Tickets whose clock runs and whose next due time is at most `within` after `now`,
    soonest first (overdue ones included): one Query on gsi4."""
    bound_settings()
    bound = f"{sortable_timestamp(now + within)}~"
    items, cursor = page_of(
        tenant,
        f"tickets:due-within:{_us(within)}",
        page,
        lambda start, limit: TicketItem.by_due.query(
            keys.tickets_due_pk(tenant),
            TicketItem.gsi4sk <= bound,
            scan_index_forward=True,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        ("gsi4pk", "gsi4sk"),
    )
    return Page([ticket_from_item(item) for item in items], cursor)


def list_comments(
    tenant: TenantId, ticket_id: str, public_only: bool, page: PageRequest
) -> Page[Comment]:
    """Oldest first: one Query of the ticket's partition, or of gsi3 for public comments."""
    bound_settings()
    if public_only:
        items, cursor = page_of(
            tenant,
            f"tickets:{ticket_id}:comments:public",
            page,
            lambda start, limit: TicketCommentItem.public.query(
                keys.ticket_public_comments_pk(tenant, ticket_id),
                scan_index_forward=True,
                limit=limit,
                page_size=limit,
                last_evaluated_key=start,
            ),
            ("gsi3pk", "gsi3sk"),
        )
    else:
        items, cursor = page_of(
            tenant,
            f"tickets:{ticket_id}:comments:all",
            page,
            lambda start, limit: TicketCommentItem.query(
                keys.ticket_pk(tenant, ticket_id),
                TicketCommentItem.sk.startswith(keys.TICKET_COMMENT_PREFIX),
                scan_index_forward=True,
                limit=limit,
                page_size=limit,
                last_evaluated_key=start,
            ),
            (),
        )
    return Page([comment_from_item(item) for item in items], cursor)


def list_events(tenant: TenantId, ticket_id: str, page: PageRequest) -> Page[TicketEvent]:
    """In order: one Query on gsi1."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        f"tickets:{ticket_id}:events",
        page,
        lambda start, limit: TicketEventItem.by_ticket.query(
            keys.ticket_events_pk(tenant, ticket_id),
            scan_index_forward=True,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        ("gsi1pk", "gsi1sk"),
    )
    return Page([ticket_event_from_item(item) for item in items], cursor)
