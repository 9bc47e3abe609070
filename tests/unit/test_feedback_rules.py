"""NPS and CSAT maths (issue 15): categories, the figures of one answer, periods and
their buckets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.analytics import Granularity, Period, checked_period
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.feedback import NpsCategory, answer_figures, category_of
from chalicelib.domain.nps import nps_by_period


@pytest.mark.parametrize(
    ("score", "category"),
    [
        (0, "detractor"),
        (6, "detractor"),
        (7, "passive"),
        (8, "passive"),
        (9, "promoter"),
        (10, "promoter"),
    ],
)
def test_scores_fall_into_their_categories(score: int, category: str) -> None:
    assert category_of(score) is NpsCategory(category)


def test_an_answer_adds_its_score_and_rating() -> None:
    both = answer_figures({"nps": 6, "rating": 4})
    score_only = answer_figures({"nps": 9})
    rating_only = answer_figures({"rating": 2, "text": "meh"})

    assert both == {
        "nps_responses": 1,
        "nps_promoters": 0,
        "nps_detractors": 1,
        "csat_responses": 1,
        "csat_sum": 4,
    }
    assert score_only["nps_promoters"] == 1 and "csat_responses" not in score_only
    assert rating_only == {"csat_responses": 1, "csat_sum": 2}
    assert answer_figures({"text": "no score"}) == {}


def _day(figures: dict[str, int]) -> dict[str, Decimal]:
    return {name: Decimal(value) for name, value in figures.items()}


def test_nps_is_promoters_minus_detractors_as_a_share_of_answers() -> None:
    # Given 7 answers on one day: 3 promoters, 2 passives, 2 detractors, and 4 ratings
    rows = {
        "2026-03-02": _day(
            {
                "nps_responses": 7,
                "nps_promoters": 3,
                "nps_detractors": 2,
                "csat_responses": 4,
                "csat_sum": 15,
            }
        )
    }
    # When the figures are read for that day
    total, points = nps_by_period(rows, Period(date(2026, 3, 2), date(2026, 3, 2)), Granularity.DAY)
    # Then NPS is (3 - 2) / 7 = 14.3 % and CSAT 15 / 4
    assert (total.responses, total.promoters, total.passives, total.detractors) == (7, 3, 2, 2)
    assert total.nps == Decimal("14.3") and total.csat_average == Decimal("3.75")
    assert points == [total]


def test_periods_without_answers_have_no_nps() -> None:
    total, points = nps_by_period({}, Period(date(2026, 3, 1), date(2026, 3, 3)), Granularity.DAY)

    assert [p.start for p in points] == [date(2026, 3, d) for d in (1, 2, 3)]
    assert total.nps is None and total.csat_average is None and total.responses == 0


def test_days_fall_into_iso_weeks_and_months_and_outside_days_count_nothing() -> None:
    # Given answers on a Sunday, the Monday after, the next month and outside the period
    rows = {
        "2026-03-29": _day({"nps_responses": 1, "nps_promoters": 1}),
        "2026-03-30": _day({"nps_responses": 1, "nps_detractors": 1}),
        "2026-04-02": _day({"nps_responses": 2, "nps_promoters": 2}),
        "2026-05-01": _day({"nps_responses": 5, "nps_detractors": 5}),
    }
    period = Period(date(2026, 3, 28), date(2026, 4, 2))
    # When they are bucketed by week and by month
    _, weeks = nps_by_period(rows, period, Granularity.WEEK)
    total, months = nps_by_period(rows, period, Granularity.MONTH)
    # Then the weeks start on Mondays, the months on the 1st, and May counts nowhere
    assert [(w.start, w.responses, w.nps) for w in weeks] == [
        (date(2026, 3, 23), 1, Decimal("100.0")),
        (date(2026, 3, 30), 3, Decimal("33.3")),
    ]
    assert [(m.start, m.responses) for m in months] == [
        (date(2026, 3, 1), 2),
        (date(2026, 4, 1), 2),
    ]
    assert total.responses == 4 and total.nps == Decimal("50.0")


def test_the_window_defaults_to_the_last_30_days_and_is_checked() -> None:
    today = date(2026, 3, 31)

    default = checked_period(None, None, today)
    ending = checked_period(None, date(2026, 1, 31), today)

    assert (default.first, default.last, default.days) == (date(2026, 3, 2), today, 30)
    assert ending.first == date(2026, 1, 2)
    with pytest.raises(InvalidInput):
        checked_period(date(2026, 4, 1), today, today)
    with pytest.raises(InvalidInput):
        checked_period(date(2024, 1, 1), today, today)
