"""The scheduled segment jobs, for every live tenant: the daily time-driven refresh (reads
only the customers due that day) and the back-fill of custom segment definitions."""

from __future__ import annotations

from datetime import date

from chalicelib.dal import control
from chalicelib.domain.tenancy import TenantStatus
from chalicelib.observability import logger
from chalicelib.services.segments import JobReport, continue_backfills, refresh_due


def _merge(total: JobReport, part: JobReport) -> None:
    total.tenants += 1
    total.customers += part.customers
    total.changed += part.changed
    total.failed += part.failed


def run_daily(day: date, deadline: float | None = None) -> JobReport:
    del deadline
    total = JobReport()
    for tenant in control.iter_tenants():
        if tenant.status is TenantStatus.DELETED:
            continue
        _merge(total, refresh_due(tenant.id, day))
    if total.customers:
        logger.info(
            "daily segments job",
            tenants=total.tenants,
            customers=total.customers,
            changed=total.changed,
            failed=len(total.failed),
        )
    return total


def run_backfills(day: date, deadline: float) -> JobReport:
    total = JobReport()
    for tenant in control.iter_tenants():
        if tenant.status is TenantStatus.DELETED:
            continue
        _merge(total, continue_backfills(tenant.id, day, deadline))
    if total.customers:
        logger.info("segment back-fills", customers=total.customers, changed=total.changed)
    return total
