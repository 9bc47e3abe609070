"""Customer metrics: folded from what the customer's partition holds (profile, points
account, interactions, tickets), as of a day. Pure: the stream consumer, the daily job, the
back-fill and the tests' from-scratch recomputation all call `fold_metrics`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

ROLLING_DAYS = 90
PRIOR_DAYS = 270
CLOSED_TICKET_STATUSES = frozenset({"resolved", "closed", "cancelled"})


@dataclass(frozen=True)
class ProfileFacts:
    customer_id: str
    created_at: datetime
    fields: dict[str, Any]
    tags: frozenset[str]
    attributes: dict[str, Any]
    birthday: date | None


@dataclass(frozen=True)
class InteractionFacts:
    interaction_id: str
    type: str
    occurred_at: datetime
    amount: Decimal | None = None
    rating: int | None = None
    nps: int | None = None


@dataclass(frozen=True)
class TicketFacts:
    ticket_id: str
    category: str
    status: str
    created_at: datetime
    resolution_target_us: int
    rating_score: int | None = None
    rated_at: datetime | None = None


@dataclass(frozen=True)
class PointsFacts:
    lots: dict[date, int]
    tier: str

    def available(self, today: date) -> int:
        return sum(points for expiry, points in self.lots.items() if today < expiry)

    def next_expiry(self, today: date) -> date | None:
        return min((expiry for expiry in self.lots if expiry > today), default=None)


@dataclass(frozen=True)
class CustomerFacts:
    """Everything about one customer that metrics and segments depend on."""

    profile: ProfileFacts
    points: PointsFacts | None = None
    interactions: tuple[InteractionFacts, ...] = ()
    tickets: tuple[TicketFacts, ...] = ()


@dataclass(frozen=True)
class CustomerMetrics:
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    purchase_count: int = 0
    total_spend: Decimal = Decimal(0)
    purchase_count_90d: int = 0
    spend_90d: Decimal = Decimal(0)
    average_order_value: Decimal | None = None
    last_activity_at: datetime | None = None
    points_balance: int = 0
    tier: str | None = None
    open_tickets: int = 0
    last_complaint_at: datetime | None = None
    last_feedback_score: int | None = None
    purchase_count_prior_270d: int = 0

    def as_json(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in vars(self).items():
            if isinstance(value, datetime):
                values[name] = value.isoformat()
            elif isinstance(value, Decimal):
                values[name] = str(value)
            else:
                values[name] = value
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> CustomerMetrics:
        parsed: dict[str, Any] = {}
        for name, kind in _FIELD_KINDS.items():
            value = values.get(name)
            if value is None:
                continue
            if kind is datetime:
                parsed[name] = datetime.fromisoformat(value)
            elif kind is Decimal:
                parsed[name] = Decimal(value)
            else:
                parsed[name] = value
        return cls(**parsed)


_FIELD_KINDS: dict[str, type] = {
    "first_purchase_at": datetime,
    "last_purchase_at": datetime,
    "purchase_count": int,
    "total_spend": Decimal,
    "purchase_count_90d": int,
    "spend_90d": Decimal,
    "average_order_value": Decimal,
    "last_activity_at": datetime,
    "points_balance": int,
    "tier": str,
    "open_tickets": int,
    "last_complaint_at": datetime,
    "last_feedback_score": int,
    "purchase_count_prior_270d": int,
}


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def fold_metrics(facts: CustomerFacts, today: date) -> tuple[CustomerMetrics, date | None]:
    """The customer's metrics on `today`, and the first later day on which they change by
    time alone (a purchase leaves the 90-day window, a lot expires), if any."""
    window_start = today - timedelta(days=ROLLING_DAYS)
    prior_start = window_start - timedelta(days=PRIOR_DAYS)
    first = last = last_activity = last_complaint = None
    count = count_90d = earlier = 0
    spend = spend_90d = Decimal(0)
    feedback: tuple[datetime, int] | None = None
    changes_on: set[date] = set()
    for interaction in sorted(facts.interactions, key=lambda i: (i.occurred_at, i.interaction_id)):
        moment = interaction.occurred_at
        day = moment.date()
        in_window = day > window_start
        last_activity = _latest(last_activity, moment)
        if interaction.type == "purchase":
            amount = interaction.amount or Decimal(0)
            count += 1
            spend += amount
            first = moment if first is None else min(first, moment)
            last = _latest(last, moment)
            if in_window:
                count_90d += 1
                spend_90d += amount
                changes_on.add(day + timedelta(days=ROLLING_DAYS))
                changes_on.add(day + timedelta(days=ROLLING_DAYS + PRIOR_DAYS))
            elif day > prior_start:
                earlier += 1
                changes_on.add(day + timedelta(days=ROLLING_DAYS + PRIOR_DAYS))
        elif interaction.type == "refund":
            amount = interaction.amount or Decimal(0)
            spend -= amount
            if in_window:
                spend_90d -= amount
                changes_on.add(day + timedelta(days=ROLLING_DAYS))
        elif interaction.type == "complaint":
            last_complaint = _latest(last_complaint, moment)
        elif interaction.type == "feedback":
            score = interaction.rating if interaction.rating is not None else interaction.nps
            if score is not None and (feedback is None or moment >= feedback[0]):
                feedback = (moment, score)
    open_tickets = 0
    for ticket in facts.tickets:
        if ticket.status not in CLOSED_TICKET_STATUSES:
            open_tickets += 1
        if ticket.category == "complaint":
            last_complaint = _latest(last_complaint, ticket.created_at)
        if ticket.rating_score is not None and ticket.rated_at is not None:
            if feedback is None or ticket.rated_at >= feedback[0]:
                feedback = (ticket.rated_at, ticket.rating_score)
    balance = 0
    tier = None
    if facts.points is not None:
        balance = facts.points.available(today)
        tier = facts.points.tier
        expiry = facts.points.next_expiry(today)
        if expiry is not None:
            changes_on.add(expiry)
    metrics = CustomerMetrics(
        first_purchase_at=first,
        last_purchase_at=last,
        purchase_count=count,
        total_spend=spend,
        purchase_count_90d=count_90d,
        spend_90d=spend_90d,
        average_order_value=(spend / count).quantize(Decimal("0.01")) if count else None,
        last_activity_at=last_activity,
        points_balance=balance,
        tier=tier,
        open_tickets=open_tickets,
        last_complaint_at=last_complaint,
        last_feedback_score=feedback[1] if feedback else None,
        purchase_count_prior_270d=earlier,
    )
    upcoming = [day for day in changes_on if day > today]
    return metrics, min(upcoming, default=None)
