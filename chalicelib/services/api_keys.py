"""API keys: a tenant's admins (or the platform admin) issue, list, rotate and revoke them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib.dal import control
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import FieldIssue, InvalidInput, NotFound
from chalicelib.domain.plans import limits_of
from chalicelib.domain.tenancy import ApiKey, IssuedKey, Role, TenantId, issue_key

DEFAULT_ROTATION_GRACE = timedelta(hours=24)
TENANT_ROLES = frozenset({Role.ADMIN, Role.STAFF, Role.APP, Role.READONLY})


def create_key(
    tenant: TenantId, role: Role, label: str | None, expires_at: datetime | None
) -> IssuedKey:
    now = utc_now()
    if role not in TENANT_ROLES:
        raise InvalidInput([FieldIssue("role", f"a tenant key's role is one of {_roles()}")])
    if expires_at is not None and expires_at <= now:
        raise InvalidInput([FieldIssue("expires_at", "must be in the future")])
    owner = control.get_tenant(tenant)
    if owner is None:
        raise NotFound(f"tenant {tenant} does not exist")
    issued = issue_key(role, tenant, now, label=label, expires_at=expires_at, owner=owner)
    control.insert_api_key(issued.record, max_keys=limits_of(owner.plan).max_api_keys)
    return issued


def _roles() -> str:
    return ", ".join(sorted(role.value for role in TENANT_ROLES))


def list_keys(tenant: TenantId) -> list[ApiKey]:
    """Newest first, without secrets (none are stored)."""
    return sorted(control.list_api_keys(tenant), key=lambda k: k.key_id, reverse=True)


def _find(tenant: TenantId, key_id: str) -> ApiKey:
    key = control.find_api_key(tenant, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist")
    return key


def rotate_key(
    tenant: TenantId, key_id: str, grace: timedelta = DEFAULT_ROTATION_GRACE
) -> IssuedKey:
    """A new secret with the same role and label; the old one keeps working for `grace`."""
    old = _find(tenant, key_id)
    now = utc_now()
    if not old.is_usable(now) or old.rotated_to is not None:
        raise NotFound(f"API key {key_id} is revoked, expired or already rotated")
    new = issue_key(old.role, tenant, now, label=old.label, expires_at=old.expires_at)
    new = replace(
        new,
        record=replace(new.record, tenant_status=old.tenant_status, tenant_plan=old.tenant_plan),
    )
    old_until = now + grace
    if old.expires_at is not None:
        old_until = min(old_until, old.expires_at)
    control.rotate_api_key(old, new.record, old_until)
    return new


def revoke_key(tenant: TenantId, key_id: str) -> None:
    """Revoked keys stop working within the authorisation cache's TTL (60 s at most)."""
    control.revoke_api_key(_find(tenant, key_id), utc_now())
