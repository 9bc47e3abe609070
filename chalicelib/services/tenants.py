"""Tenant onboarding and operation (platform admin), and the platform-admin key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from chalicelib.dal import control
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import ConcurrentModification, NotFound, PreconditionFailed
from chalicelib.domain.gateway import needs_gateway_sync
from chalicelib.domain.ids import new_tenant_id
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import (
    ApiKey,
    IssuedKey,
    Plan,
    PurgeProgress,
    Role,
    Tenant,
    TenantId,
    TenantStatus,
    hash_secret,
    issue_key,
    tenant_id,
)
from chalicelib.domain.tenant_config import TenantConfig
from chalicelib.services.gateway_keys import (
    gateway_keys_enabled,
    sync_gateway_key,
    undo_gateway_key,
)


def create_tenant(
    name: str,
    plan: Plan,
    contact_email: str | None = None,
    config: TenantConfig | None = None,
) -> tuple[Tenant, IssuedKey]:
    """A new active tenant with its first admin key (the secret is returned only here).

    Deployed, the tenant's API Gateway key is created and put in its plan's usage plan
    first; if the tenant cannot then be stored, the key is removed again."""
    now = utc_now()
    tenant = Tenant(
        id=tenant_id(new_tenant_id()),
        name=name,
        plan=plan,
        status=TenantStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        contact_email=contact_email,
        key_count=1,
    )
    first_key = issue_key(Role.ADMIN, tenant.id, now, label="first admin key", owner=tenant)
    tenant = sync_gateway_key(tenant)
    try:
        control.insert_tenant(tenant, first_key.record, config)
    except Exception:
        undo_gateway_key(tenant, None)
        raise
    return tenant, first_key


def parse_tenant_id(value: str) -> TenantId:
    try:
        return tenant_id(value)
    except ValueError:
        raise NotFound(f"tenant {value} does not exist") from None


def get_tenant(value: str) -> Tenant:
    tenant = control.get_tenant(parse_tenant_id(value))
    if tenant is None:
        raise NotFound(f"tenant {value} does not exist")
    return tenant


def list_tenants(status: TenantStatus | None, page: PageRequest) -> Page[Tenant]:
    return control.list_tenants(status, page)


@dataclass(frozen=True)
class TenantChanges:
    name: str | None = None
    plan: Plan | None = None
    contact_email: str | None = None
    clear_contact_email: bool = False


def update_tenant(value: str, changes: TenantChanges, expected_version: int | None) -> Tenant:
    def change(tenant: Tenant) -> Tenant:
        if tenant.status is TenantStatus.DELETED:
            raise NotFound(f"tenant {tenant.id} was deleted")
        return replace(
            tenant,
            name=changes.name or tenant.name,
            plan=changes.plan or tenant.plan,
            contact_email=None
            if changes.clear_contact_email
            else (changes.contact_email or tenant.contact_email),
        )

    return _save(value, expected_version, change)


def suspend_tenant(value: str) -> Tenant:
    return _set_status(value, TenantStatus.SUSPENDED, allowed_from={TenantStatus.ACTIVE})


def reactivate_tenant(value: str) -> Tenant:
    return _set_status(value, TenantStatus.ACTIVE, allowed_from={TenantStatus.SUSPENDED})


def delete_tenant(value: str) -> Tenant:
    """Mark the tenant deleted at once (its keys stop working) and queue the purge of its
    data. Deleting a deleted tenant changes nothing."""

    def change(tenant: Tenant) -> Tenant:
        if tenant.status is TenantStatus.DELETED:
            return tenant
        return replace(
            tenant, status=TenantStatus.DELETED, deleted_at=utc_now(), purge=PurgeProgress()
        )

    return _save(value, None, change)


def _set_status(value: str, status: TenantStatus, allowed_from: set[TenantStatus]) -> Tenant:
    def change(tenant: Tenant) -> Tenant:
        if tenant.status is status:
            return tenant
        if tenant.status not in allowed_from:
            raise NotFound(f"tenant {tenant.id} was deleted")
        return replace(tenant, status=status)

    return _save(value, None, change)


ChangeTenant = Callable[[Tenant], Tenant]


def _save(value: str, expected_version: int | None, change: ChangeTenant) -> Tenant:
    for _ in range(5):
        tenant = get_tenant(value)
        if expected_version is not None and tenant.version != expected_version:
            raise PreconditionFailed(f"tenant {value} is at version {tenant.version}")
        changed = sync_gateway_key(change(tenant))
        try:
            if changed != tenant:
                tenant = control.save_tenant(tenant, replace(changed, updated_at=utc_now()))
            return control.copy_tenant_to_keys(tenant, utc_now())
        except ConcurrentModification:
            if expected_version is not None:
                undo_gateway_key(changed, tenant)
                raise PreconditionFailed(f"tenant {value} changed since it was read") from None
    undo_gateway_key(changed, tenant)
    raise ConcurrentModification(f"tenant {value} keeps changing; retry")


def provision_gateway_keys() -> int:
    """Bring every tenant's API Gateway key in line with its record (tenants created before
    per-tenant keys, or whose last change failed half-way); idempotent. Answers how many
    tenants needed it."""
    if not gateway_keys_enabled():
        return 0
    count = 0
    for tenant in control.iter_tenants():
        if needs_gateway_sync(tenant):
            _save(tenant.id, None, lambda current: current)
            count += 1
    return count


def register_platform_key(secret: str) -> ApiKey:
    """Store a platform-admin key for a secret chosen by the operator (idempotent)."""
    existing = control.get_api_key(hash_secret(secret))
    if existing is not None:
        return existing
    issued = issue_key(Role.PLATFORM_ADMIN, None, utc_now(), label="platform admin", secret=secret)
    control.insert_platform_key(issued.record)
    return issued.record
