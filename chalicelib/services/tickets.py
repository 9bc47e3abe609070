"""Service tickets: open, read, change, move through the lifecycle, comment, rate, list."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.dal import tickets as repository
from chalicelib.domain import tickets as rules
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import (
    ConcurrentModification,
    FieldIssue,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from chalicelib.domain.ids import is_ticket_id, new_comment_id, new_ticket_id
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tenant_config import TicketsConfig
from chalicelib.domain.tickets import (
    Actor,
    Comment,
    NewTicket,
    Priority,
    SlaTargets,
    Ticket,
    TicketChange,
    TicketEvent,
    TicketPatch,
    TicketStatus,
    sla_view,
)
from chalicelib.observability import BusinessMetric, count
from chalicelib.services.customers import get_customer
from chalicelib.services.tenant_config import get_tenant_config

_ATTEMPTS = 10
_HOUR = timedelta(hours=1)


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.01 * (2 ** min(attempt, 5))))


def _not_found(ticket_id: str) -> NotFound:
    return NotFound(f"ticket {ticket_id} does not exist")


def _sla_targets(tenant: TenantId, priority: Priority) -> SlaTargets:
    """The tenant's targets for `priority`; the documented default where it names none."""
    configured = get_tenant_config(tenant).tickets.sla
    target = configured.get(priority.value) or TicketsConfig().sla[priority.value]
    return SlaTargets(
        first_response=_HOUR * float(target.first_response_hours),
        resolution=_HOUR * float(target.resolution_hours),
    )


def _reopen_window(tenant: TenantId) -> timedelta:
    """Read only for a resolved ticket: the one status the window applies to."""
    return timedelta(days=get_tenant_config(tenant).tickets.reopen_window_days)


def open_ticket(tenant: TenantId, draft: NewTicket, actor: Actor) -> Ticket:
    """A new ticket for an existing customer of the tenant, with its SLA targets fixed from
    the tenant's configuration for its priority. A customer token opens tickets for its own
    customer only (another customer reads as missing)."""
    try:
        if actor.customer_id not in (None, draft.customer_id):
            raise _not_found_customer(draft.customer_id)
        get_customer(tenant, draft.customer_id)
    except NotFound as exc:
        raise InvalidInput(
            [FieldIssue("customer_id", "no such customer in this tenant", "not_found")]
        ) from exc
    change = rules.open_ticket(
        new_ticket_id(), draft, _sla_targets(tenant, draft.priority), actor, utc_now()
    )
    return repository.save_ticket(tenant, change, stored_version=None)


def _not_found_customer(customer_id: str) -> NotFound:
    return NotFound(f"customer {customer_id} does not exist")


def get_ticket(tenant: TenantId, ticket_id: str, customer_scope: str | None = None) -> Ticket:
    """The ticket; with `customer_scope` (a customer token's customer) another customer's
    ticket reads as missing."""
    ticket = repository.get_ticket(tenant, ticket_id) if is_ticket_id(ticket_id) else None
    if ticket is None or customer_scope not in (None, ticket.customer_id):
        raise _not_found(ticket_id)
    return ticket


def _change_with_retry(
    tenant: TenantId,
    ticket_id: str,
    expected_version: int | None,
    change: Callable[[Ticket], TicketChange | None],
    customer_scope: str | None = None,
) -> TicketChange:
    """Read the ticket, derive the change, write it guarded by the version read.

    With `expected_version` (If-Match) a ticket changed by someone else fails with
    PreconditionFailed; without it the change is derived again from the fresh ticket (so a
    rule that no longer holds, e.g. a transition from a status just left, fails as such).
    `change` answering None means nothing to write."""
    for attempt in range(_ATTEMPTS):
        current = get_ticket(tenant, ticket_id, customer_scope)
        if expected_version is not None and current.version != expected_version:
            raise PreconditionFailed(
                f"ticket {ticket_id} is at version {current.version}, not {expected_version}"
            )
        derived = change(current)
        if derived is None:
            return TicketChange(current)
        try:
            stored = repository.save_ticket(tenant, derived, stored_version=current.version)
        except ConcurrentModification:
            if expected_version is not None:
                raise PreconditionFailed(
                    f"ticket {ticket_id} changed since version {expected_version}"
                ) from None
            _back_off(attempt)
            continue
        return TicketChange(stored, derived.events, derived.comment)
    raise ConcurrentModification(f"ticket {ticket_id} keeps changing; retry")


def update_ticket(
    tenant: TenantId, ticket_id: str, patch: TicketPatch, expected_version: int | None
) -> Ticket:
    """Priority, assignee, category, tags. A new priority takes that priority's targets."""

    def change(current: Ticket) -> TicketChange | None:
        priority = patch.fields.get("priority")
        new_targets = (
            _sla_targets(tenant, priority)
            if isinstance(priority, Priority) and priority is not current.priority
            else None
        )
        updated = rules.apply_patch(current, patch, new_targets, utc_now())
        return None if updated is current else TicketChange(updated)

    return _change_with_retry(tenant, ticket_id, expected_version, change).ticket


def transition_ticket(
    tenant: TenantId,
    ticket_id: str,
    to: TicketStatus,
    note: str | None,
    actor: Actor,
    expected_version: int | None,
) -> Ticket:
    def change(current: Ticket) -> TicketChange:
        resolved = current.status is TicketStatus.RESOLVED
        window = _reopen_window(tenant) if resolved else timedelta(0)
        return rules.transition(current, to, actor, utc_now(), window, note)

    ticket = _change_with_retry(tenant, ticket_id, expected_version, change).ticket
    if to is TicketStatus.RESOLVED and sla_view(ticket, utc_now()).breached:
        count(BusinessMetric.TICKETS_BREACHED)
    return ticket


def add_comment(
    tenant: TenantId, ticket_id: str, body: str, internal: bool, actor: Actor
) -> Comment:
    comment_id = new_comment_id()

    def change(current: Ticket) -> TicketChange:
        return rules.add_comment(current, comment_id, body, internal, actor, utc_now())

    written = _change_with_retry(tenant, ticket_id, None, change, actor.customer_id).comment
    if written is None:
        raise RuntimeError("a comment change wrote no comment")
    return written


def list_comments(
    tenant: TenantId, ticket_id: str, actor: Actor, page: PageRequest
) -> Page[Comment]:
    """Oldest first. Customer tokens see public comments only."""
    get_ticket(tenant, ticket_id, actor.customer_id)
    public_only = actor.role not in rules.INTERNAL_NOTE_READERS
    return repository.list_comments(tenant, ticket_id, public_only, page)


def rate_ticket(
    tenant: TenantId,
    ticket_id: str,
    score: int,
    comment: str | None,
    customer_id: str | None,
    actor: Actor,
) -> Ticket:
    """Once, after resolution. A customer token rates its own customer's tickets; a
    merchant key may record a rating on the customer's behalf."""
    customer_id = customer_id or actor.customer_id

    def change(current: Ticket) -> TicketChange:
        if customer_id is not None and customer_id != current.customer_id:
            raise Forbidden("only the ticket's customer may rate it")
        return rules.rate(current, score, comment, actor, utc_now())

    return _change_with_retry(tenant, ticket_id, None, change, actor.customer_id).ticket


def list_ticket_events(tenant: TenantId, ticket_id: str, page: PageRequest) -> Page[TicketEvent]:
    get_ticket(tenant, ticket_id)
    return repository.list_events(tenant, ticket_id, page)


@dataclass(frozen=True)
class TicketFilter:
    """Exactly one listing: by status (and priority), assignee, customer, or due soon."""

    status: TicketStatus | None = None
    priority: Priority | None = None
    assignee: str | None = None
    customer_id: str | None = None
    due_within: timedelta | None = None


def find_tickets(tenant: TenantId, wanted: TicketFilter, page: PageRequest) -> Page[Ticket]:
    if wanted.status is not None:
        return repository.list_by_status(tenant, wanted.status, wanted.priority, page)
    if wanted.assignee is not None:
        return repository.list_by_assignee(tenant, wanted.assignee, page)
    if wanted.customer_id is not None:
        return repository.list_by_customer(tenant, wanted.customer_id, page)
    if wanted.due_within is not None:
        return repository.list_due_within(tenant, utc_now(), wanted.due_within, page)
    raise InvalidInput(
        [FieldIssue("status", "filter by status, assignee, customer_id or at_risk", "missing")]
    )
