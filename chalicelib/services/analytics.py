"""Analytics reads: the summary, a metric over time and the retention cohorts, from the
counters the data stream consumer keeps (chalicelib/dal/analytics.py). A read costs the
same number of DynamoDB calls whatever the tenant's size."""

from __future__ import annotations

from datetime import date

from chalicelib.dal import analytics as repository
from chalicelib.domain import analytics
from chalicelib.domain.clock import utc_now
from chalicelib.domain.tenancy import TenantId


def _today() -> date:
    return utc_now().date()


def summary(tenant: TenantId, first: date | None, last: date | None) -> analytics.Summary:
    """Gauges now (one BatchGetItem) and the period's daily figures (one Query per shard)."""
    period = analytics.checked_period(first, last, _today())
    rows = repository.read_days(tenant, period.first.isoformat(), period.last.isoformat())
    gauges = repository.read_gauges(tenant)
    return analytics.summarize(gauges, analytics.sum_days(rows, period), period)


def timeseries(
    tenant: TenantId,
    metric: str,
    first: date | None,
    last: date | None,
    granularity: analytics.Granularity,
) -> tuple[analytics.Period, list[analytics.SeriesPoint]]:
    metric = analytics.checked_metric(metric)
    period = analytics.checked_period(first, last, _today())
    rows = repository.read_days(tenant, period.first.isoformat(), period.last.isoformat())
    return period, analytics.series(rows, metric, period, granularity)


def cohorts(tenant: TenantId, first: date | None, last: date | None) -> list[analytics.Cohort]:
    today = _today()
    first_month, last_month = analytics.checked_months(first, last, today)
    rows = repository.read_cohorts(tenant, first_month, last_month)
    return analytics.cohort_table(rows, first_month, last_month, today)
