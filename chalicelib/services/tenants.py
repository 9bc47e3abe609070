"""Tenant onboarding and the platform-admin key."""

from __future__ import annotations

from chalicelib.dal import control
from chalicelib.domain.clock import utc_now
from chalicelib.domain.ids import new_tenant_id
from chalicelib.domain.tenancy import (
    ApiKey,
    IssuedKey,
    Plan,
    Role,
    Tenant,
    TenantStatus,
    hash_secret,
    issue_key,
    tenant_id,
)


def create_tenant(name: str, plan: Plan) -> tuple[Tenant, IssuedKey]:
    """A new active tenant with its first admin key (the secret is returned only here)."""
    now = utc_now()
    tenant = Tenant(
        id=tenant_id(new_tenant_id()),
        name=name,
        plan=plan,
        status=TenantStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    first_key = issue_key(Role.ADMIN, tenant.id, now, label="first admin key")
    control.insert_tenant(tenant, first_key.record)
    return tenant, first_key


def register_platform_key(secret: str) -> ApiKey:
    """Store a platform-admin key for a secret chosen by the operator (idempotent)."""
    existing = control.get_api_key(hash_secret(secret))
    if existing is not None:
        return existing
    issued = issue_key(Role.PLATFORM_ADMIN, None, utc_now(), label="platform admin", secret=secret)
    control.insert_platform_key(issued.record)
    return issued.record
