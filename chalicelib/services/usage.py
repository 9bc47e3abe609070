"""Per-tenant request rate and usage accounting."""

from __future__ import annotations

import time
from datetime import date
from typing import TYPE_CHECKING

from chalicelib.dal import control
from chalicelib.dal.metering import meter, metered_tenant
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import RateLimited
from chalicelib.domain.plans import limits_of
from chalicelib.domain.rate_limit import TokenBuckets, retry_after_seconds
from chalicelib.domain.tenancy import DailyUsage, Plan, TenantId
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from chalicelib.domain.analytics import Period

MAX_USAGE_DAYS = 366
rate_buckets = TokenBuckets()


def admit_request(tenant: TenantId, plan: Plan) -> None:
    """Count the request for `tenant`; refuse it past the plan's rate where the
    application enforces rates itself (the local stage)."""
    metered_tenant(tenant)
    if get_settings().rate_limit_in_app:
        limits = limits_of(plan)
        wait = rate_buckets.take(tenant, limits.requests_per_second, limits.burst, time.monotonic())
        if wait > 0:
            raise RateLimited(
                retry_after_seconds(wait),
                f"the {plan.value} plan allows {limits.requests_per_second:g} requests a second",
            )
    meter.count_request(tenant)


def end_request() -> None:
    metered_tenant(None)
    meter.flush_if_due()


def usage_between(
    tenant: TenantId, first: date | None, last: date | None
) -> tuple[Period, list[DailyUsage]]:
    """The days of the period asked for (both ends included; by default the 30 days up to
    today) that recorded usage. (The period rules are analytics'; that module loads only
    here, off the request path's metering.)"""
    from chalicelib.domain.analytics import checked_period

    period = checked_period(first, last, utc_now().date(), max_days=MAX_USAGE_DAYS)
    meter.flush()
    return period, control.list_usage(tenant, period.first.isoformat(), period.last.isoformat())
