"""Analytics routes: the summary, one metric over time, retention cohorts."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.schemas.analytics import (
    CohortOut,
    CohortQuery,
    CohortsOut,
    PeriodOut,
    PeriodQuery,
    SeriesPointOut,
    SummaryOut,
    TimeseriesOut,
    TimeseriesQuery,
)
from chalicelib.services import analytics as service

analytics_api = Operations(__name__)


@analytics_api.operation(
    "GET",
    "/v1/analytics/summary",
    summary="How customer operations perform",
    tag="analytics",
    query=PeriodQuery,
    response=SummaryOut,
)
def get_summary(call: Call[None, PeriodQuery]) -> Reply:
    """Customers, loyalty, interactions, tickets, satisfaction and commerce: figures "now"
    (totals, stages, tiers, outstanding points, open tickets, buyers) and over the period
    (`from`..`to`, UTC days, at most 366; default the last 30). Kept current by the data
    stream within seconds; percentiles are approximate (see each field)."""
    found = service.summary(call.tenant, call.query.from_, call.query.to)
    return Reply(SummaryOut.of(found))


@analytics_api.operation(
    "GET",
    "/v1/analytics/timeseries",
    summary="One figure over time",
    tag="analytics",
    query=TimeseriesQuery,
    response=TimeseriesOut,
)
def get_timeseries(call: Call[None, TimeseriesQuery]) -> Reply:
    """An additive daily figure summed per day, ISO week or month over `from`..`to` (at
    most 366 days), zero where nothing happened."""
    query = call.query
    period, points = service.timeseries(
        call.tenant, query.metric, query.from_, query.to, query.granularity
    )
    return Reply(
        TimeseriesOut(
            metric=query.metric,
            granularity=query.granularity,
            period=PeriodOut.of(period),
            points=[SeriesPointOut(start=p.start, value=p.value) for p in points],
        )
    )


@analytics_api.operation(
    "GET",
    "/v1/analytics/cohorts",
    summary="Retention cohorts",
    tag="analytics",
    query=CohortQuery,
    response=CohortsOut,
)
def get_cohorts(call: Call[None, CohortQuery]) -> Reply:
    """Customers grouped by the month of their first purchase (the months of `from`..`to`,
    at most 36), with how many bought again in each following month up to this one."""
    found = service.cohorts(call.tenant, call.query.from_, call.query.to)
    return Reply(
        CohortsOut(
            items=[
                CohortOut(
                    month=c.month, customers=c.customers, returning=c.returning, shares=c.shares
                )
                for c in found
            ]
        )
    )
