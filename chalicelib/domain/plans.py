"""Plans and their limits: the one place that defines them."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.tenancy import Plan


@dataclass(frozen=True)
class PlanLimits:
    max_customers: int | None
    max_api_keys: int
    requests_per_second: float
    burst: int
    max_batch_size: int
    audit_retention_days: int


PLAN_LIMITS: dict[Plan, PlanLimits] = {
    Plan.FREE: PlanLimits(
        max_customers=1_000,
        max_api_keys=5,
        requests_per_second=10,
        burst=20,
        max_batch_size=100,
        audit_retention_days=30,
    ),
    Plan.STANDARD: PlanLimits(
        max_customers=100_000,
        max_api_keys=25,
        requests_per_second=100,
        burst=200,
        max_batch_size=100,
        audit_retention_days=365,
    ),
    Plan.ENTERPRISE: PlanLimits(
        max_customers=None,
        max_api_keys=100,
        requests_per_second=1_000,
        burst=2_000,
        max_batch_size=500,
        audit_retention_days=2_555,
    ),
}


def limits_of(plan: Plan) -> PlanLimits:
    return PLAN_LIMITS[plan]
