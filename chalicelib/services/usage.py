"""Per-tenant request rate and usage accounting."""

from __future__ import annotations

import time
from datetime import date, timedelta

from chalicelib.dal import control
from chalicelib.dal.metering import meter, metered_tenant
from chalicelib.domain.errors import FieldIssue, InvalidInput, RateLimited
from chalicelib.domain.plans import limits_of
from chalicelib.domain.rate_limit import TokenBuckets, retry_after_seconds
from chalicelib.domain.tenancy import DailyUsage, Plan, TenantId
from chalicelib.settings import get_settings

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


def usage_between(tenant: TenantId, first: date, last: date) -> list[DailyUsage]:
    if last < first:
        raise InvalidInput([FieldIssue("to", "must not be before from")])
    if (last - first) > timedelta(days=MAX_USAGE_DAYS):
        raise InvalidInput([FieldIssue("to", f"at most {MAX_USAGE_DAYS} days at a time")])
    meter.flush()
    return control.list_usage(tenant, first.isoformat(), last.isoformat())
