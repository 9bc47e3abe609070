"""Item models of support tickets: the ticket, its copy under the customer, comments, events."""

from __future__ import annotations

from typing import ClassVar

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from chalicelib.dal.models.base import (
    DataTableModel,
    _Gsi1,
    _Gsi3,
    _Gsi4,
)


class TicketsByStatus(_Gsi1["TicketItem"]):
    pass


class TicketsByStatusAndPriority(_Gsi3["TicketItem"]):
    pass


class TicketsByDue(_Gsi4["TicketItem"]):
    pass


class CustomerTicketsByAssignee(_Gsi4["CustomerTicketItem"]):
    pass


class TicketEventsByTicket(_Gsi1["TicketEventItem"]):
    pass


class PublicTicketComments(_Gsi3["TicketCommentItem"]):
    pass


class TicketFields(DataTableModel):
    """The attributes of a ticket, shared by the ticket item and its copy under the customer.

    SLA durations are whole microseconds; `*_paused_us` is how long the SLA clock had stood
    still when that milestone was reached."""

    audit_resource: ClassVar[str | None] = "ticket"
    entity = UnicodeAttribute(default="ticket")
    tenant_id = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    category = UnicodeAttribute()
    subject = UnicodeAttribute()
    description = UnicodeAttribute()
    priority = UnicodeAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    tags = UnicodeSetAttribute(null=True)
    assignee = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by_key = UnicodeAttribute()
    created_by_role = UnicodeAttribute()
    first_response_target_us = NumberAttribute()
    resolution_target_us = NumberAttribute()
    paused_us = NumberAttribute(default=0)
    clock_stopped_at = UTCDateTimeAttribute(null=True)
    first_response_at = UTCDateTimeAttribute(null=True)
    first_response_paused_us = NumberAttribute(null=True)
    resolved_at = UTCDateTimeAttribute(null=True)
    resolution_paused_us = NumberAttribute(null=True)
    next_due_at = UTCDateTimeAttribute(null=True)
    rating = MapAttribute[str, object](null=True)
    comment_count = NumberAttribute(default=0)
    event_count = NumberAttribute(default=0)


class TicketItem(TicketFields):
    """The ticket (pk `T#{t}#TKT#{id}`, sk `TICKET`): read by id, listed by status,
    status and priority, and (while its SLA clock runs) by next due time."""

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi3pk = UnicodeAttribute()
    gsi3sk = UnicodeAttribute()
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_status = TicketsByStatus()
    by_status_and_priority = TicketsByStatusAndPriority()
    by_due = TicketsByDue()


class CustomerTicketItem(TicketFields):
    """A copy of the ticket in its customer's partition (sk `TICKET#{created}#{id}`),
    written in the same transaction: lists a customer's tickets and, on gsi4, an
    assignee's."""

    audit_resource = None
    entity = UnicodeAttribute(default="customer_ticket")
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    version = NumberAttribute()

    by_assignee = CustomerTicketsByAssignee()


class TicketCommentItem(DataTableModel):
    """A comment in its ticket's partition; public ones are also listed on gsi3."""

    audit_resource = "ticket_comment"
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="ticket_comment")
    tenant_id = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    comment_id = UnicodeAttribute()
    body = UnicodeAttribute()
    internal = BooleanAttribute()
    author_key = UnicodeAttribute()
    author_role = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    public = PublicTicketComments()


class TicketEventItem(DataTableModel):
    """A ticket event in the customer's partition (the interaction timeline's item
    collection), sk `TKTEV#{at}#{ticket_id}#{seq}`; gsi1 lists one ticket's events."""

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="ticket_event")
    tenant_id = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    seq = NumberAttribute()
    type = UnicodeAttribute()
    occurred_at = UTCDateTimeAttribute()
    actor_key = UnicodeAttribute()
    actor_role = UnicodeAttribute()
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    score = NumberAttribute(null=True)
    subject = UnicodeAttribute()
    category = UnicodeAttribute()
    priority = UnicodeAttribute()

    by_ticket = TicketEventsByTicket()
