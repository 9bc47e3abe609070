"""Customers' rights: what an erasure keeps and what it removes (no I/O here).

An erasure deletes the profile, its unique claims and tag listings outright, and
anonymises what the books still need: interactions keep their type, time, channel,
location and amounts (the ledger, the order claims and the metrics depend on them) but
lose their free text and attributes; ledger entries keep their points and lose the
reason and reference typed in by staff; tickets, their copies, events and comments keep
their status, SLA clock and counts but lose subject, description, tags, notes, comment
bodies and the rating comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.customers import Customer
from chalicelib.domain.interactions import Interaction
from chalicelib.domain.loyalty import LedgerEntry, PointsAccount
from chalicelib.domain.offers import Coupon
from chalicelib.domain.rewards import RewardRedemption
from chalicelib.domain.segments import SegmentState
from chalicelib.domain.tickets import Comment, Ticket, TicketEvent
from chalicelib.domain.timeline import TimelineEntry

ERASED = "[erased]"


@dataclass(frozen=True)
class Erasure:
    """The record of an erasure: who asked, when, and whether the sweep has finished."""

    customer_id: str
    requested_at: datetime
    requested_by: str
    completed_at: datetime | None = None
    items_anonymised: int = 0


# The interaction details an erasure keeps: amounts, scores and the merchant's order id.
# Everything else (feedback and contact text, line items, event names) is dropped.
KEPT_INTERACTION_DETAILS = frozenset({"amount", "currency", "order_id", "rating", "nps"})


def anonymised_details(details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in details.items()
        if name in KEPT_INTERACTION_DETAILS and value is not None
    }


def anonymised_ticket(ticket: Ticket) -> Ticket:
    """The ticket with its free text removed; status, SLA clock and counts unchanged."""
    rating = ticket.rating
    if rating is not None and rating.comment is not None:
        rating = replace(rating, comment=None)
    return replace(ticket, subject=ERASED, description=ERASED, tags=frozenset(), rating=rating)


def is_anonymised(ticket: Ticket) -> bool:
    return anonymised_ticket(ticket) == ticket


@dataclass(frozen=True)
class TicketRecord:
    """A ticket of the customer with all its comments (internal ones too) and events."""

    ticket: Ticket
    comments: tuple[Comment, ...]
    events: tuple[TicketEvent, ...]


@dataclass(frozen=True)
class CustomerDossier:
    """Everything held about one customer, as the export answers it."""

    customer: Customer
    state: SegmentState | None
    account: PointsAccount | None
    interactions: tuple[Interaction, ...]
    ledger: tuple[LedgerEntry, ...]
    tickets: tuple[TicketRecord, ...]
    audit_entries: tuple[AuditEntry, ...]
    exported_at: datetime
    reward_redemptions: tuple[RewardRedemption, ...] = ()
    coupons: tuple[Coupon, ...] = ()
    campaign_messages: tuple[TimelineEntry, ...] = ()
