"""The daily loyalty job: record the expiry of the lots due today and re-evaluate the
rolling-spend tiers due today, for every tenant. Reads only what is due (gsi2), no scan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from chalicelib.dal import control
from chalicelib.dal import loyalty as repository
from chalicelib.domain.errors import DomainError
from chalicelib.domain.loyalty import SYSTEM_ACTOR, AccountChange
from chalicelib.domain.tenancy import TenantId, TenantStatus
from chalicelib.observability import logger
from chalicelib.services.loyalty import StagedChange, account_write, commit_account_change
from chalicelib.services.tenant_config import get_tenant_config


@dataclass(frozen=True)
class DailyReport:
    tenants: int = 0
    expiry_checked: int = 0
    tiers_evaluated: int = 0


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def expire_lots(tenant: TenantId, day: date, now: datetime | None = None) -> int:
    """Record `expire` entries for the customers whose lots expire on `day`; answers how
    many customers were checked. A customer whose lot was already spent or expired by an
    earlier write just loses the lot's marker."""
    moment = now or _start_of(day)
    config = None
    checked = 0
    for customer_id in repository.customers_with_lots_expiring(tenant, day):
        config = config or get_tenant_config(tenant).loyalty

        def stage(change: AccountChange, customer_id: str = customer_id) -> StagedChange:
            write = account_write(customer_id, change)
            write.lots_expired.add(day)
            return StagedChange(write, None, change)

        try:
            commit_account_change(
                tenant, customer_id, stage, config, SYSTEM_ACTOR, moment, closed_ok=True
            )
        except DomainError:
            logger.exception("expiry failed", customer_id=customer_id)
        checked += 1
    return checked


def evaluate_tiers(tenant: TenantId, day: date, now: datetime | None = None) -> int:
    """Re-evaluate rolling-spend tiers of the customers whose evaluation falls on `day`
    (down as well as up); answers how many were evaluated."""
    moment = now or _start_of(day)
    config = None
    evaluated = 0
    for customer_id in repository.customers_due_for_tier_evaluation(tenant, day):
        config = config or get_tenant_config(tenant).loyalty

        def stage(change: AccountChange, customer_id: str = customer_id) -> StagedChange:
            change.reevaluate_tier()
            return StagedChange(account_write(customer_id, change), None, change)

        try:
            commit_account_change(
                tenant, customer_id, stage, config, SYSTEM_ACTOR, moment, closed_ok=True
            )
        except DomainError:
            logger.exception("tier evaluation failed", customer_id=customer_id)
        evaluated += 1
    return evaluated


def run_daily(day: date, now: datetime | None = None) -> DailyReport:
    """The scheduled entry point: every tenant that is not deleted (one Query lists them).
    A tenant with nothing due costs two Queries; its configuration is read only when needed."""
    tenants = expired = evaluated = 0
    for tenant in control.iter_tenants():
        if tenant.status is TenantStatus.DELETED:
            continue
        tenants += 1
        expired += expire_lots(tenant.id, day, now)
        evaluated += evaluate_tiers(tenant.id, day, now)
    report = DailyReport(tenants, expired, evaluated)
    logger.info("daily loyalty job", **vars(report))
    return report
