"""Customer metrics: folded from what the customer's partition holds (profile, points
account, interactions, tickets), as of a day. Pure: the stream consumer, the daily job, the
back-fill and the tests' from-scratch recomputation all call `fold_metrics`."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    channel: str | None = None


@dataclass(frozen=True)
class TicketFacts:
    ticket_id: str
    category: str
    status: str
    created_at: datetime
    resolution_target_us: int
    rating_score: int | None = None
    rated_at: datetime | None = None
    first_response_target_us: int = 0
    first_response_at: datetime | None = None
    first_response_paused_us: int = 0
    resolved_at: datetime | None = None
    resolution_paused_us: int = 0


@dataclass(frozen=True)
class PointsFacts:
    lots: dict[date, int]
    tier: str
    lifetime_earned: int = 0
    redeemed: int = 0
    expired: int = 0
    updated_at: datetime | None = None

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


@dataclass
class _Timeline:
    """The running fold over a customer's interactions and tickets."""

    today: date
    first: datetime | None = None
    last: datetime | None = None
    last_activity: datetime | None = None
    last_complaint: datetime | None = None
    feedback: tuple[datetime, int] | None = None
    count: int = 0
    count_90d: int = 0
    prior: int = 0
    spend: Decimal = Decimal(0)
    spend_90d: Decimal = Decimal(0)
    open_tickets: int = 0
    changes_on: set[date] = field(default_factory=set)

    @property
    def window_start(self) -> date:
        return self.today - timedelta(days=ROLLING_DAYS)

    def score(self, moment: datetime, score: int) -> None:
        if self.feedback is None or moment >= self.feedback[0]:
            self.feedback = (moment, score)

    def purchase(self, moment: datetime, amount: Decimal) -> None:
        day = moment.date()
        self.count += 1
        self.spend += amount
        self.first = moment if self.first is None else min(self.first, moment)
        self.last = _latest(self.last, moment)
        if day > self.window_start:
            self.count_90d += 1
            self.spend_90d += amount
            self.changes_on.add(day + timedelta(days=ROLLING_DAYS))
            self.changes_on.add(day + timedelta(days=ROLLING_DAYS + PRIOR_DAYS))
        elif day > self.window_start - timedelta(days=PRIOR_DAYS):
            self.prior += 1
            self.changes_on.add(day + timedelta(days=ROLLING_DAYS + PRIOR_DAYS))

    def refund(self, moment: datetime, amount: Decimal) -> None:
        day = moment.date()
        self.spend -= amount
        if day > self.window_start:
            self.spend_90d -= amount
            self.changes_on.add(day + timedelta(days=ROLLING_DAYS))

    def interaction(self, interaction: InteractionFacts) -> None:
        moment = interaction.occurred_at
        self.last_activity = _latest(self.last_activity, moment)
        amount = interaction.amount or Decimal(0)
        if interaction.type == "purchase":
            self.purchase(moment, amount)
        elif interaction.type == "refund":
            self.refund(moment, amount)
        elif interaction.type == "complaint":
            self.last_complaint = _latest(self.last_complaint, moment)
        elif interaction.type == "feedback":
            score = interaction.rating if interaction.rating is not None else interaction.nps
            if score is not None:
                self.score(moment, score)

    def ticket(self, ticket: TicketFacts) -> None:
        if ticket.status not in CLOSED_TICKET_STATUSES:
            self.open_tickets += 1
        if ticket.category == "complaint":
            self.last_complaint = _latest(self.last_complaint, ticket.created_at)
        if ticket.rating_score is not None and ticket.rated_at is not None:
            self.score(ticket.rated_at, ticket.rating_score)


def fold_metrics(facts: CustomerFacts, today: date) -> tuple[CustomerMetrics, date | None]:
    """The customer's metrics on `today`, and the first later day on which they change by
    time alone (a purchase leaves the 90-day window, a lot expires), if any."""
    timeline = _Timeline(today)
    for interaction in sorted(facts.interactions, key=lambda i: (i.occurred_at, i.interaction_id)):
        timeline.interaction(interaction)
    for ticket in sorted(facts.tickets, key=lambda t: (t.created_at, t.ticket_id)):
        timeline.ticket(ticket)
    balance = 0
    tier = None
    if facts.points is not None:
        balance = facts.points.available(today)
        tier = facts.points.tier
        expiry = facts.points.next_expiry(today)
        if expiry is not None:
            timeline.changes_on.add(expiry)
    count = timeline.count
    metrics = CustomerMetrics(
        first_purchase_at=timeline.first,
        last_purchase_at=timeline.last,
        purchase_count=count,
        total_spend=timeline.spend,
        purchase_count_90d=timeline.count_90d,
        spend_90d=timeline.spend_90d,
        average_order_value=(timeline.spend / count).quantize(Decimal("0.01")) if count else None,
        last_activity_at=timeline.last_activity,
        points_balance=balance,
        tier=tier,
        open_tickets=timeline.open_tickets,
        last_complaint_at=timeline.last_complaint,
        last_feedback_score=timeline.feedback[1] if timeline.feedback else None,
        purchase_count_prior_270d=timeline.prior,
    )
    upcoming = [day for day in timeline.changes_on if day > today]
    return metrics, min(upcoming, default=None)
