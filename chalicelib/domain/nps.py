"""NPS and CSAT per period (issue 15), from daily figures named like the analytics
counters' (the tenant's, a segment's or a campaign's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from chalicelib.domain.analytics import (
    Figures,
    Granularity,
    Period,
    bucket_start,
    net_promoter_score,
    ratio,
)
from chalicelib.domain.feedback import FIGURE_NAMES


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
