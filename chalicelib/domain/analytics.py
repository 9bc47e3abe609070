"""Analytics: what one customer contributes to its tenant's figures, and the figures read
back from the summed contributions. Pure: no DynamoDB, no HTTP.

The stream consumer keeps, per customer, the contribution it last added to the tenant's
counters (`Contribution`), recomputes it from the customer's facts on every refresh and
adds only the difference (`contribution_delta`) in the same version-conditioned
transaction, so counts and sums are exact under redelivery (docs/streams.md).

Three kinds of figure:

- gauges: the customer as it is now (one customer, its lifecycle stage, RFM group, tier,
  outstanding points, open tickets, whether it bought once or more);
- daily figures, on the UTC day the thing happened (a customer created, an interaction,
  a ticket opened, answered, resolved, rated, points issued, redeemed, expired);
- cohorts: by the month of the first purchase, whether the customer bought again in each
  later month.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from chalicelib.domain.errors import FieldIssue, InvalidInput
from chalicelib.domain.feedback import DETRACTOR_MAX, PROMOTER_MIN
from chalicelib.domain.interactions import Channel, InteractionType
from chalicelib.domain.metrics import (
    CustomerFacts,
    CustomerMetrics,
    InteractionFacts,
    TicketFacts,
)

Figures = dict[str, Decimal]

# Durations (first response, resolution) are counted in a fixed histogram whose bucket
# bounds grow by 10 %: bucket 0 holds [0, 60 s), bucket k ≥ 1 holds [b(k-1), b(k)) with
# b(k) = ceil(60 * 1.1^k) seconds, up to about 400 days; longer durations land in the last.
DURATION_FIRST_BOUND_SECONDS: Final = 60
DURATION_GROWTH: Final = 1.1
DURATION_BOUNDS: Final[tuple[int, ...]] = tuple(
    math.ceil(DURATION_FIRST_BOUND_SECONDS * DURATION_GROWTH**k) for k in range(140)
)

MAX_PERIOD_DAYS: Final = 366
MAX_COHORT_MONTHS: Final = 36
DEFAULT_PERIOD_DAYS: Final = 30

NO_TIER: Final = "none"
POINTS_FIGURES: Final = ("points_issued", "points_redeemed", "points_expired")
NO_CHANNEL: Final = "unspecified"

# The additive daily figures (the timeseries metrics). Histogram buckets (`frt:{k}`,
# `rt:{k}`) are stored beside them but are not metrics of their own.
BASE_DAILY_METRICS: Final = (
    "customers_new",
    "interactions",
    "purchases",
    "revenue",
    "repeat_purchases",
    "refunds",
    "refunded_amount",
    "points_issued",
    "points_redeemed",
    "points_expired",
    "tickets_opened",
    "tickets_first_responded",
    "tickets_resolved",
    "tickets_sla_breached",
    "csat_responses",
    "csat_sum",
    "nps_responses",
    "nps_promoters",
    "nps_detractors",
)
DAILY_METRICS: Final[tuple[str, ...]] = (
    BASE_DAILY_METRICS
    + tuple(f"interactions:{t.value}" for t in InteractionType)
    + tuple(f"channel:{c.value}" for c in Channel)
    + (f"channel:{NO_CHANNEL}",)
)


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


# Durations.


def duration_bucket(seconds: float) -> int:
    """The histogram bucket of a duration: the index of the first bound above it."""
    return min(bisect_right(DURATION_BOUNDS, max(seconds, 0)), len(DURATION_BOUNDS) - 1)


def bucket_upper_bound(bucket: int) -> int:
    return DURATION_BOUNDS[bucket]


def histogram_percentile(histogram: Mapping[int, int], fraction: float) -> int | None:
    """The nearest-rank percentile of the durations counted in `histogram` (bucket →
    count), reported as the upper bound of the bucket holding that rank: never below the
    exact value, and at most 10 % + 1 s above it (60 s, in the first bucket). None when empty."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_upper_bound(bucket)
    return bucket_upper_bound(max(histogram))


# Rates.


def ratio(numerator: Decimal, denominator: Decimal, places: str = "0.0001") -> Decimal | None:
    if denominator == 0:
        return None
    return (numerator / denominator).quantize(Decimal(places))


def net_promoter_score(
    promoters: Decimal, detractors: Decimal, responses: Decimal
) -> Decimal | None:
    """Promoters (9-10) minus detractors (0-6), as a percentage of the responses."""
    if responses == 0:
        return None
    return (Decimal(100) * (promoters - detractors) / responses).quantize(Decimal("0.1"))


# What one customer contributes.


@dataclass(frozen=True)
class Contribution:
    """What the tenant's counters hold on one customer's behalf. `points` keeps the
    account's running totals at the last refresh (issued, redeemed, expired), from which
    the next refresh books the difference on the day of the account's last change."""

    gauges: Figures = field(default_factory=dict)
    days: dict[str, Figures] = field(default_factory=dict)
    cohorts: dict[str, Figures] = field(default_factory=dict)
    points: Figures = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        def plain(figures: Mapping[str, Decimal]) -> dict[str, str]:
            return {name: str(value) for name, value in sorted(figures.items())}

        return {
            "g": plain(self.gauges),
            "d": {day: plain(f) for day, f in sorted(self.days.items())},
            "c": {month: plain(f) for month, f in sorted(self.cohorts.items())},
            "p": plain(self.points),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, object]) -> Contribution:
        def figures(raw: object) -> Figures:
            return {str(k): Decimal(str(v)) for k, v in dict(raw or {}).items()}  # type: ignore[call-overload]

        def nested(raw: object) -> dict[str, Figures]:
            return {str(k): figures(v) for k, v in dict(raw or {}).items()}  # type: ignore[call-overload]

        return cls(
            gauges=figures(document.get("g")),
            days=nested(document.get("d")),
            cohorts=nested(document.get("c")),
            points=figures(document.get("p")),
        )


def _add(figures: Figures, name: str, value: Decimal | int = 1) -> None:
    amount = Decimal(value)
    if amount:
        total = figures.get(name, Decimal(0)) + amount
        if total:
            figures[name] = total
        else:
            figures.pop(name, None)


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _month(moment: datetime | date) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def months_between(first: str, later: str) -> int:
    a_year, a_month = (int(part) for part in first.split("-"))
    b_year, b_month = (int(part) for part in later.split("-"))
    return (b_year - a_year) * 12 + (b_month - a_month)


def _ticket_figures(ticket: TicketFacts, days: dict[str, Figures]) -> None:
    _add(days.setdefault(_day(ticket.created_at), {}), "tickets_opened")
    first_response = None
    if ticket.first_response_at is not None:
        first_response = (
            ticket.first_response_at - ticket.created_at
        ).total_seconds() - ticket.first_response_paused_us / 1_000_000
        figures = days.setdefault(_day(ticket.first_response_at), {})
        _add(figures, "tickets_first_responded")
        _add(figures, f"frt:{duration_bucket(first_response)}")
    if ticket.resolved_at is not None:
        resolution = (
            ticket.resolved_at - ticket.created_at
        ).total_seconds() - ticket.resolution_paused_us / 1_000_000
        figures = days.setdefault(_day(ticket.resolved_at), {})
        _add(figures, "tickets_resolved")
        _add(figures, f"rt:{duration_bucket(resolution)}")
        responded = first_response if first_response is not None else resolution
        breached = (
            resolution * 1_000_000 > ticket.resolution_target_us
            or responded * 1_000_000 > ticket.first_response_target_us
        )
        if breached:
            _add(figures, "tickets_sla_breached")
    if ticket.rating_score is not None and ticket.rated_at is not None:
        figures = days.setdefault(_day(ticket.rated_at), {})
        _add(figures, "csat_responses")
        _add(figures, "csat_sum", ticket.rating_score)


def _gauges(metrics: CustomerMetrics, segments: Iterable[str]) -> Figures:
    gauges: Figures = {}
    _add(gauges, "customers")
    for segment in segments:
        kind, _, name = segment.partition(":")
        if kind in ("lifecycle", "rfm"):
            _add(gauges, f"{'stage' if kind == 'lifecycle' else 'rfm'}:{name}")
    _add(gauges, f"tier:{metrics.tier or NO_TIER}")
    _add(gauges, "points_outstanding", metrics.points_balance)
    _add(gauges, "tickets_open", metrics.open_tickets)
    _add(gauges, "buyers", 1 if metrics.purchase_count >= 1 else 0)
    _add(gauges, "repeat_buyers", 1 if metrics.purchase_count >= 2 else 0)
    return gauges


def _interaction_figures(
    interaction: InteractionFacts, first_purchase: InteractionFacts | None, figures: Figures
) -> None:
    _add(figures, "interactions")
    _add(figures, f"interactions:{interaction.type}")
    _add(figures, f"channel:{interaction.channel or NO_CHANNEL}")
    amount = interaction.amount or Decimal(0)
    if interaction.type == InteractionType.PURCHASE.value:
        _add(figures, "purchases")
        _add(figures, "revenue", amount)
        if interaction is not first_purchase:
            _add(figures, "repeat_purchases")
    elif interaction.type == InteractionType.REFUND.value:
        _add(figures, "refunds")
        _add(figures, "refunded_amount", amount)
    elif interaction.type == InteractionType.FEEDBACK.value:
        if interaction.rating is not None:
            _add(figures, "csat_responses")
            _add(figures, "csat_sum", interaction.rating)
        if interaction.nps is not None:
            _add(figures, "nps_responses")
            _add(figures, "nps_promoters", 1 if interaction.nps >= PROMOTER_MIN else 0)
            _add(figures, "nps_detractors", 1 if interaction.nps <= DETRACTOR_MAX else 0)


def _book_points(facts: CustomerFacts, previous: Contribution, days: dict[str, Figures]) -> Figures:
    """Points: the account keeps running totals, not dated movements (the ledger is not
    read), so the refresh books the change since its last contribution on the day of the
    account's last change, and carries earlier bookings over unchanged."""
    for day, figures in previous.days.items():
        for name in POINTS_FIGURES:
            if name in figures:
                _add(days.setdefault(day, {}), name, figures[name])
    account = facts.points
    if account is None or account.updated_at is None:
        return dict(previous.points)
    totals = {
        "points_issued": Decimal(account.lifetime_earned),
        "points_redeemed": Decimal(account.redeemed),
        "points_expired": Decimal(account.expired),
    }
    booked = days.setdefault(_day(account.updated_at), {})
    for name, total in totals.items():
        _add(booked, name, total - previous.points.get(name, Decimal(0)))
    return totals


def _cohorts(purchases: list[InteractionFacts]) -> dict[str, Figures]:
    if not purchases:
        return {}
    cohort = _month(purchases[0].occurred_at)
    figures: Figures = {}
    _add(figures, "customers")
    for offset in sorted({months_between(cohort, _month(p.occurred_at)) for p in purchases}):
        if offset >= 1:
            _add(figures, f"m{offset}")
    return {cohort: figures}


def contribution_of(
    facts: CustomerFacts | None,
    metrics: CustomerMetrics | None,
    segments: Iterable[str],
    previous: Contribution,
) -> Contribution:
    """The customer's contribution now. A deleted customer (no facts) keeps what it
    contributed to past days and cohorts and drops out of every gauge."""
    if facts is None or metrics is None:
        return Contribution({}, previous.days, previous.cohorts, previous.points)
    days: dict[str, Figures] = {}
    _add(days.setdefault(_day(facts.profile.created_at), {}), "customers_new")
    purchases = sorted(
        (i for i in facts.interactions if i.type == InteractionType.PURCHASE.value),
        key=lambda i: (i.occurred_at, i.interaction_id),
    )
    first_purchase = purchases[0] if purchases else None
    for interaction in facts.interactions:
        _interaction_figures(
            interaction, first_purchase, days.setdefault(_day(interaction.occurred_at), {})
        )
    for ticket in facts.tickets:
        _ticket_figures(ticket, days)
    points = _book_points(facts, previous, days)
    days = {day: figures for day, figures in days.items() if figures}
    return Contribution(_gauges(metrics, segments), days, _cohorts(purchases), points)


# The difference to apply to the tenant's counters.


@dataclass(frozen=True)
class CounterDelta:
    """What to add to one counter item: `kind` is `gauge`, `day` (key: the day) or
    `cohort` (key: the month)."""

    kind: str
    key: str
    figures: Figures


def _difference(before: Mapping[str, Decimal], after: Mapping[str, Decimal]) -> Figures:
    names = set(before) | set(after)
    moved = {n: after.get(n, Decimal(0)) - before.get(n, Decimal(0)) for n in names}
    return {n: v for n, v in moved.items() if v}


def contribution_delta(before: Contribution, after: Contribution) -> list[CounterDelta]:
    """Every counter item whose figures change, and by how much (sorted, stable)."""
    deltas: list[CounterDelta] = []
    gauges = _difference(before.gauges, after.gauges)
    if gauges:
        deltas.append(CounterDelta("gauge", "", gauges))
    for kind, old, new in (
        ("day", before.days, after.days),
        ("cohort", before.cohorts, after.cohorts),
    ):
        for key in sorted(set(old) | set(new)):
            moved = _difference(old.get(key, {}), new.get(key, {}))
            if moved:
                deltas.append(CounterDelta(kind, key, moved))
    return deltas


def partly_applied(
    before: Contribution, after: Contribution, applied: Iterable[CounterDelta]
) -> Contribution:
    """`before` with some of the deltas towards `after` applied: what the counters hold
    when a large change is committed in several transactions (docs/streams.md)."""
    gauges = dict(before.gauges)
    days = {k: dict(v) for k, v in before.days.items()}
    cohorts = {k: dict(v) for k, v in before.cohorts.items()}
    for delta in applied:
        if delta.kind == "gauge":
            target = gauges
        elif delta.kind == "day":
            target = days.setdefault(delta.key, {})
        else:
            target = cohorts.setdefault(delta.key, {})
        for name, value in delta.figures.items():
            _add(target, name, value)
    return Contribution(
        gauges,
        {k: v for k, v in days.items() if v},
        {k: v for k, v in cohorts.items() if v},
        before.points,
    )


def carries_points(delta: CounterDelta) -> bool:
    """Whether a delta books a points movement: such a delta is committed with the
    contribution's new point totals, never in an earlier part of a split change."""
    return delta.kind == "gauge" or any(name in delta.figures for name in POINTS_FIGURES)


# Reading the figures back.


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def checked_period(
    first: date | None, last: date | None, today: date, max_days: int = MAX_PERIOD_DAYS
) -> Period:
    """The period asked for (both ends included); by default the 30 days up to today."""
    last = last or today
    first = first or last - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first > last:
        raise InvalidInput([FieldIssue("from", "must not be after to")])
    if (last - first).days + 1 > max_days:
        raise InvalidInput([FieldIssue("to", f"a period covers at most {max_days} days")])
    return Period(first, last)


def checked_metric(metric: str) -> str:
    if metric not in DAILY_METRICS:
        raise InvalidInput(
            [FieldIssue("metric", "unknown metric; one of: " + ", ".join(DAILY_METRICS))]
        )
    return metric


def sum_days(rows: Mapping[str, Mapping[str, Decimal]], period: Period) -> Figures:
    """The daily figures of `rows` (day → figures, shards already summed) within `period`."""
    total: Figures = {}
    first, last = period.first.isoformat(), period.last.isoformat()
    for day, figures in rows.items():
        if first <= day <= last:
            for name, value in figures.items():
                _add(total, name, value)
    return total


def _histogram(figures: Mapping[str, Decimal], prefix: str) -> dict[int, int]:
    return {
        int(name[len(prefix) :]): int(value)
        for name, value in figures.items()
        if name.startswith(prefix) and value > 0
    }


def _named(figures: Mapping[str, Decimal], prefix: str) -> dict[str, int]:
    return {
        name[len(prefix) :]: int(value)
        for name, value in sorted(figures.items())
        if name.startswith(prefix) and value != 0
    }


@dataclass(frozen=True)
class DurationStats:
    count: int
    median_seconds: int | None
    p90_seconds: int | None


def duration_stats(figures: Mapping[str, Decimal], prefix: str) -> DurationStats:
    histogram = _histogram(figures, prefix)
    return DurationStats(
        count=sum(histogram.values()),
        median_seconds=histogram_percentile(histogram, 0.5),
        p90_seconds=histogram_percentile(histogram, 0.9),
    )


@dataclass(frozen=True)
class Summary:
    period: Period
    customers_total: int
    customers_new: int
    lifecycle: dict[str, int]
    rfm: dict[str, int]
    tiers: dict[str, int]
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_outstanding: int
    redemption_rate: Decimal | None
    interactions_total: int
    interactions_by_type: dict[str, int]
    interactions_by_channel: dict[str, int]
    tickets_opened: int
    tickets_resolved: int
    tickets_open_now: int
    first_response: DurationStats
    resolution: DurationStats
    sla_breach_rate: Decimal | None
    csat_responses: int
    csat_average: Decimal | None
    nps_responses: int
    nps: Decimal | None
    purchases: int
    revenue: Decimal
    average_order_value: Decimal | None
    buyers: int
    repeat_buyers: int
    repeat_purchase_rate: Decimal | None


def summarize(
    gauges: Mapping[str, Decimal], period_figures: Mapping[str, Decimal], period: Period
) -> Summary:
    """The summary from the tenant's gauges (now) and its daily figures summed over the period."""
    g = dict(gauges)
    d = dict(period_figures)
    zero = Decimal(0)

    def count(figures: Mapping[str, Decimal], name: str) -> int:
        return int(figures.get(name, zero))

    buyers, repeat = g.get("buyers", zero), g.get("repeat_buyers", zero)
    purchases, revenue = d.get("purchases", zero), d.get("revenue", zero)
    return Summary(
        period=period,
        customers_total=count(g, "customers"),
        customers_new=count(d, "customers_new"),
        lifecycle=_named(g, "stage:"),
        rfm=_named(g, "rfm:"),
        tiers=_named(g, "tier:"),
        points_issued=count(d, "points_issued"),
        points_redeemed=count(d, "points_redeemed"),
        points_expired=count(d, "points_expired"),
        points_outstanding=count(g, "points_outstanding"),
        redemption_rate=ratio(d.get("points_redeemed", zero), d.get("points_issued", zero)),
        interactions_total=count(d, "interactions"),
        interactions_by_type=_named(d, "interactions:"),
        interactions_by_channel=_named(d, "channel:"),
        tickets_opened=count(d, "tickets_opened"),
        tickets_resolved=count(d, "tickets_resolved"),
        tickets_open_now=count(g, "tickets_open"),
        first_response=duration_stats(d, "frt:"),
        resolution=duration_stats(d, "rt:"),
        sla_breach_rate=ratio(d.get("tickets_sla_breached", zero), d.get("tickets_resolved", zero)),
        csat_responses=count(d, "csat_responses"),
        csat_average=ratio(d.get("csat_sum", zero), d.get("csat_responses", zero), "0.01"),
        nps_responses=count(d, "nps_responses"),
        nps=net_promoter_score(
            d.get("nps_promoters", zero),
            d.get("nps_detractors", zero),
            d.get("nps_responses", zero),
        ),
        purchases=int(purchases),
        revenue=revenue,
        average_order_value=ratio(revenue, purchases, "0.01"),
        buyers=int(buyers),
        repeat_buyers=int(repeat),
        repeat_purchase_rate=ratio(repeat, buyers),
    )


def bucket_start(day: date, granularity: Granularity) -> date:
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    return day


@dataclass(frozen=True)
class SeriesPoint:
    start: date
    value: Decimal


def series(
    rows: Mapping[str, Mapping[str, Decimal]],
    metric: str,
    period: Period,
    granularity: Granularity,
) -> list[SeriesPoint]:
    """One point per day, ISO week (Monday) or calendar month overlapping the period, zero
    where nothing happened; a bucket cut by the period counts only the days inside it."""
    totals: dict[date, Decimal] = {}
    day = period.first
    while day <= period.last:
        totals.setdefault(bucket_start(day, granularity), Decimal(0))
        day += timedelta(days=1)
    first, last = period.first.isoformat(), period.last.isoformat()
    for key, figures in rows.items():
        if first <= key <= last and metric in figures:
            start = bucket_start(date.fromisoformat(key), granularity)
            totals[start] += figures[metric]
    return [SeriesPoint(start, value) for start, value in sorted(totals.items())]


@dataclass(frozen=True)
class Cohort:
    month: str
    customers: int
    returning: list[int]
    shares: list[Decimal | None]


def month_of(day: date) -> str:
    return _month(day)


def checked_months(first: date | None, last: date | None, today: date) -> tuple[str, str]:
    end = last or today
    last_month = _month(end)
    first_month = _month(first) if first else _month(end - timedelta(days=365))
    if first_month > last_month:
        raise InvalidInput([FieldIssue("from", "must not be after to")])
    if months_between(first_month, last_month) + 1 > MAX_COHORT_MONTHS:
        raise InvalidInput([FieldIssue("to", f"at most {MAX_COHORT_MONTHS} cohort months")])
    return first_month, last_month


def cohort_table(
    rows: Mapping[str, Mapping[str, Decimal]], first: str, last: str, today: date
) -> list[Cohort]:
    """For each month from `first` to `last` (first purchases in it), the customers and, for
    each following month up to the current one, how many bought again and their share."""
    cohorts: list[Cohort] = []
    current = _month(today)
    month = first
    while month <= last:
        figures = rows.get(month, {})
        size = int(figures.get("customers", Decimal(0)))
        following = max(months_between(month, current), 0)
        returning = [int(figures.get(f"m{k}", Decimal(0))) for k in range(1, following + 1)]
        shares = [ratio(Decimal(n), Decimal(size)) for n in returning]
        cohorts.append(Cohort(month, size, returning, shares))
        year, number = (int(part) for part in month.split("-"))
        month = f"{year + number // 12:04d}-{number % 12 + 1:02d}"
    return cohorts
