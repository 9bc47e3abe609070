"""Analytics: percentiles, rates, cohorts and per-customer contributions (pure logic)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import analytics
from chalicelib.domain.analytics import (
    Contribution,
    Granularity,
    Period,
    contribution_delta,
    contribution_of,
    duration_bucket,
    histogram_percentile,
    net_promoter_score,
    partly_applied,
)
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.metrics import (
    CustomerFacts,
    InteractionFacts,
    PointsFacts,
    ProfileFacts,
    TicketFacts,
    fold_metrics,
)

TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _at(days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), UTC).replace(
        hour=hour
    )


@given(st.lists(st.integers(min_value=0, max_value=30 * 86400), min_size=1, max_size=200))
def test_a_percentile_is_never_below_the_exact_value_nor_10_percent_above(
    durations: list[int],
) -> None:
    histogram: dict[int, int] = {}
    for seconds in durations:
        bucket = duration_bucket(seconds)
        histogram[bucket] = histogram.get(bucket, 0) + 1
    ordered = sorted(durations)
    for fraction in (0.5, 0.9):
        exact = ordered[max(1, math.ceil(fraction * len(ordered))) - 1]
        estimate = histogram_percentile(histogram, fraction)
        assert estimate is not None
        assert exact < estimate <= max(60, math.ceil(exact * 1.1) + 1)


def test_an_empty_histogram_has_no_percentile() -> None:
    assert histogram_percentile({}, 0.5) is None


def test_nps_is_promoters_minus_detractors_in_percent() -> None:
    assert net_promoter_score(Decimal(5), Decimal(2), Decimal(10)) == Decimal("30.0")
    assert net_promoter_score(Decimal(0), Decimal(3), Decimal(3)) == Decimal("-100.0")
    assert net_promoter_score(Decimal(0), Decimal(0), Decimal(0)) is None


def _facts(
    interactions: tuple[InteractionFacts, ...] = (),
    tickets: tuple[TicketFacts, ...] = (),
    points: PointsFacts | None = None,
) -> CustomerFacts:
    profile = ProfileFacts("cus_1", _at(100), {}, frozenset(), {}, None)
    return CustomerFacts(profile, points, interactions, tickets)


def _contribution(facts: CustomerFacts, previous: Contribution | None = None) -> Contribution:
    metrics, _ = fold_metrics(facts, TODAY)
    return contribution_of(facts, metrics, ["lifecycle:active"], previous or Contribution())


def test_a_customer_contributes_its_days_gauges_and_cohort() -> None:
    buys = (
        InteractionFacts("i1", "purchase", _at(70), Decimal(30), channel="store"),
        InteractionFacts("i2", "purchase", _at(40), Decimal(20), channel="online"),
        InteractionFacts("i3", "feedback", _at(1), rating=4, nps=10),
    )
    ticket = TicketFacts(
        "t1",
        "complaint",
        "resolved",
        _at(3, 10),
        resolution_target_us=8 * 3600 * 10**6,
        first_response_target_us=3600 * 10**6,
        first_response_at=_at(3, 12),
        resolved_at=_at(3, 14),
        rating_score=5,
        rated_at=_at(2),
    )
    c = _contribution(_facts(buys, (ticket,)))
    assert c.gauges["customers"] == 1 and c.gauges["stage:active"] == 1
    assert c.gauges["buyers"] == 1 and c.gauges["repeat_buyers"] == 1
    assert c.days[_at(70).date().isoformat()] == {
        "interactions": 1,
        "interactions:purchase": 1,
        "channel:store": 1,
        "purchases": 1,
        "revenue": 30,
    }
    assert c.days[_at(40).date().isoformat()]["repeat_purchases"] == 1
    day = c.days[_at(3).date().isoformat()]
    # first response after 2 h (late for a 1 h target): breached
    assert day["tickets_opened"] == 1 and day["tickets_resolved"] == 1
    assert day["tickets_sla_breached"] == 1
    assert day[f"frt:{duration_bucket(7200)}"] == 1 and day[f"rt:{duration_bucket(14400)}"] == 1
    assert c.days[_at(1).date().isoformat()]["nps_promoters"] == 1
    first_month = f"{_at(70).year}-{_at(70).month:02d}"
    assert c.cohorts == {first_month: {"customers": 1, "m1": 1}}


def test_recomputing_from_the_same_facts_changes_nothing() -> None:
    points = PointsFacts({TODAY + timedelta(days=300): 50}, "member", 50, 0, 0, NOW)
    facts = _facts((InteractionFacts("i1", "purchase", _at(5), Decimal(50)),), points=points)
    first = _contribution(facts)
    again = _contribution(facts, first)
    assert again == first
    assert contribution_delta(first, again) == []
    assert first.days[TODAY.isoformat()]["points_issued"] == 50


def test_points_moved_later_are_booked_on_the_day_of_the_change() -> None:
    earned = PointsFacts({}, "member", 50, 0, 0, _at(5))
    facts = _facts(points=earned)
    before = _contribution(facts)
    spent = PointsFacts({}, "member", 50, 20, 5, NOW)
    after = _contribution(_facts(points=spent), before)
    assert after.days[_at(5).date().isoformat()]["points_issued"] == 50
    assert after.days[TODAY.isoformat()]["points_redeemed"] == 20
    assert after.days[TODAY.isoformat()]["points_expired"] == 5
    deltas = contribution_delta(before, after)
    assert [(d.kind, d.key) for d in deltas] == [("day", TODAY.isoformat())]


def test_a_deleted_customer_keeps_its_history_and_leaves_the_gauges() -> None:
    before = _contribution(_facts((InteractionFacts("i1", "visit", _at(5)),)))
    after = contribution_of(None, None, (), before)
    assert after.gauges == {} and after.days == before.days
    (delta,) = contribution_delta(before, after)
    assert delta.kind == "gauge" and delta.figures["customers"] == -1


def test_applying_a_delta_in_parts_reaches_the_target() -> None:
    visits = tuple(InteractionFacts(f"i{n}", "visit", _at(n)) for n in range(60))
    target = _contribution(_facts(visits))
    deltas = contribution_delta(Contribution(), target)
    early = [d for d in deltas if not analytics.carries_points(d)]
    partial = partly_applied(Contribution(), target, early[:30])
    rest = contribution_delta(partial, target)
    assert len(rest) == len(deltas) - 30
    assert partly_applied(partial, target, rest).days == target.days


def test_a_contribution_survives_its_json() -> None:
    facts = _facts((InteractionFacts("i1", "purchase", _at(5), Decimal("12.34")),))
    c = _contribution(facts)
    assert Contribution.from_json(c.as_json()) == c


def test_the_period_defaults_to_the_last_30_days_and_is_checked() -> None:
    assert analytics.checked_period(None, None, TODAY) == Period(TODAY - timedelta(29), TODAY)
    with pytest.raises(InvalidInput) as error:
        analytics.checked_period(TODAY, TODAY - timedelta(1), TODAY)
    assert error.value.issues[0].field == "from"
    with pytest.raises(InvalidInput) as error:
        analytics.checked_period(TODAY - timedelta(366), TODAY, TODAY)
    assert error.value.issues[0].field == "to"
    with pytest.raises(InvalidInput) as error:
        analytics.checked_metric("profit")
    assert error.value.issues[0].field == "metric"


def test_series_sums_days_into_weeks_and_months_and_fills_gaps() -> None:
    rows = {"2026-11-02": {"revenue": Decimal(5)}, "2026-11-04": {"revenue": Decimal(7)}}
    period = Period(date(2026, 10, 30), date(2026, 11, 4))
    weeks = analytics.series(rows, "revenue", period, Granularity.WEEK)
    assert [(p.start.isoformat(), p.value) for p in weeks] == [
        ("2026-10-26", 0),
        ("2026-11-02", 12),
    ]
    months = analytics.series(rows, "revenue", period, Granularity.MONTH)
    assert [(p.start.isoformat(), p.value) for p in months] == [
        ("2026-10-01", 0),
        ("2026-11-01", 12),
    ]
    assert len(analytics.series(rows, "revenue", period, Granularity.DAY)) == 6


def test_cohort_shares_are_returning_customers_over_the_cohort() -> None:
    rows = {"2026-09": {"customers": Decimal(4), "m1": Decimal(2), "m2": Decimal(1)}}
    table = analytics.cohort_table(rows, "2026-09", "2026-11", TODAY)
    assert [(c.month, c.customers, c.returning) for c in table] == [
        ("2026-09", 4, [2, 1]),
        ("2026-10", 0, [0]),
        ("2026-11", 0, []),
    ]
    assert table[0].shares == [Decimal("0.5"), Decimal("0.25")]
    assert table[1].shares == [None]
