"""Feedback and NPS (issue 15): categories, the figures one answer adds, and NPS/CSAT per
period. The figure names are the analytics counters' own (`nps_*`, `csat_*`), so tenant,
segment and campaign figures are read the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.domain.analytics import (
    DETRACTOR_MAX,
    PROMOTER_MIN,
    Figures,
    Granularity,
    Period,
    bucket_start,
    net_promoter_score,
    ratio,
)

CAMPAIGN_DETAIL = "campaign_id"
TICKET_DETAIL = "ticket_id"
SEGMENTS_DETAIL = "answered_in_segments"
"""The answering customer's segments when it answered, kept on the interaction's details
for the per-segment counters (not shown on the timeline)."""

FIGURE_NAMES = (
    "nps_responses",
    "nps_promoters",
    "nps_detractors",
    "csat_responses",
    "csat_sum",
)


class NpsCategory(StrEnum):
    DETRACTOR = "detractor"
    PASSIVE = "passive"
    PROMOTER = "promoter"


def category_of(nps: int) -> NpsCategory:
    """Promoters answer 9-10, detractors 0-6, passives 7-8."""
    if nps >= PROMOTER_MIN:
        return NpsCategory.PROMOTER
    if nps <= DETRACTOR_MAX:
        return NpsCategory.DETRACTOR
    return NpsCategory.PASSIVE


def _score(details: Mapping[str, Any], name: str) -> int | None:
    value = details.get(name)
    return int(value) if value is not None else None


def answer_figures(details: Mapping[str, Any]) -> Figures:
    """What one feedback answer adds to the counters (empty when it carries no score)."""
    figures: Figures = {}
    nps, rating = _score(details, "nps"), _score(details, "rating")
    if nps is not None:
        category = category_of(nps)
        figures["nps_responses"] = Decimal(1)
        figures["nps_promoters"] = Decimal(1 if category is NpsCategory.PROMOTER else 0)
        figures["nps_detractors"] = Decimal(1 if category is NpsCategory.DETRACTOR else 0)
    if rating is not None:
        figures["csat_responses"] = Decimal(1)
        figures["csat_sum"] = Decimal(rating)
    return figures


def category_in(details: Mapping[str, Any]) -> NpsCategory | None:
    nps = _score(details, "nps")
    return category_of(nps) if nps is not None else None


@dataclass(frozen=True)
class NpsFigures:
    start: date
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: Decimal | None
    csat_responses: int
    csat_average: Decimal | None

    @classmethod
    def of(cls, start: date, figures: Mapping[str, Decimal]) -> NpsFigures:
        responses = figures.get("nps_responses", Decimal(0))
        promoters = figures.get("nps_promoters", Decimal(0))
        detractors = figures.get("nps_detractors", Decimal(0))
        csat_responses = figures.get("csat_responses", Decimal(0))
        return cls(
            start=start,
            responses=int(responses),
            promoters=int(promoters),
            passives=int(responses - promoters - detractors),
            detractors=int(detractors),
            nps=net_promoter_score(promoters, detractors, responses),
            csat_responses=int(csat_responses),
            csat_average=ratio(figures.get("csat_sum", Decimal(0)), csat_responses, "0.01"),
        )


def nps_by_period(
    rows: Mapping[str, Mapping[str, Decimal]], period: Period, granularity: Granularity
) -> tuple[NpsFigures, list[NpsFigures]]:
    """The whole period's figures and one entry per day, ISO week or month overlapping it
    (empty buckets included); a bucket cut by the period counts only its days inside."""
    buckets: dict[date, Figures] = {}
    day = period.first
    while day <= period.last:
        buckets.setdefault(bucket_start(day, granularity), {})
        day += timedelta(days=1)
    total: Figures = {}
    first, last = period.first.isoformat(), period.last.isoformat()
    for key, figures in rows.items():
        if not first <= key <= last:
            continue
        bucket = buckets[bucket_start(date.fromisoformat(key), granularity)]
        for name in FIGURE_NAMES:
            if name in figures:
                bucket[name] = bucket.get(name, Decimal(0)) + figures[name]
                total[name] = total.get(name, Decimal(0)) + figures[name]
    points = [NpsFigures.of(start, figures) for start, figures in sorted(buckets.items())]
    return NpsFigures.of(period.first, total), points
