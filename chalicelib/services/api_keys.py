"""API keys: a tenant's admins (or the platform admin) issue, list, rotate and revoke them."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.dal import control
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import ConcurrentModification, FieldIssue, InvalidInput, NotFound
from chalicelib.domain.plans import limits_of
from chalicelib.domain.tenancy import ApiKey, IssuedKey, Role, Tenant, TenantId, issue_key

DEFAULT_ROTATION_GRACE = timedelta(hours=24)
TENANT_ROLES = frozenset({Role.ADMIN, Role.STAFF, Role.APP, Role.READONLY})


TENANT_READ_ATTEMPTS = 3


def create_key(
    tenant: TenantId, role: Role, label: str | None, expires_at: datetime | None
) -> IssuedKey:
    """A new key with a copy of its tenant's status and plan as they are when it is stored
    (a key made for a suspended tenant works from the tenant's reactivation on)."""
    now = utc_now()
    if role not in TENANT_ROLES:
        raise InvalidInput([FieldIssue("role", f"a tenant key's role is one of {_roles()}")])
    if expires_at is not None and expires_at <= now:
        raise InvalidInput([FieldIssue("expires_at", "must be in the future")])
    for _ in range(TENANT_READ_ATTEMPTS):
        owner = _owner(tenant)
        issued = issue_key(role, tenant, now, label=label, expires_at=expires_at, owner=owner)
        try:
            control.insert_api_key(issued.record, max_keys=limits_of(owner.plan).max_api_keys)
            return issued
        except ConcurrentModification:
            continue
    raise ConcurrentModification(f"tenant {tenant} keeps changing; retry")


def _owner(tenant: TenantId) -> Tenant:
    owner = control.get_tenant(tenant)
    if owner is None:
        raise NotFound(f"tenant {tenant} does not exist")
    return owner


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
    """A new secret with the same role and label; the old one keeps working for `grace`.
    The new key copies the tenant's status and plan from the tenant record as it is when
    the new key is stored (not from the old key's copy)."""
    now = utc_now()
    for _ in range(TENANT_READ_ATTEMPTS):
        old = _find(tenant, key_id)
        if not old.is_usable(now) or old.rotated_to is not None:
            raise NotFound(f"API key {key_id} is revoked, expired or already rotated")
        owner = _owner(tenant)
        new = issue_key(
            old.role, tenant, now, label=old.label, expires_at=old.expires_at, owner=owner
        )
        old_until = now + grace
        if old.expires_at is not None:
            old_until = min(old_until, old.expires_at)
        try:
            control.rotate_api_key(old, new.record, old_until)
            return new
        except ConcurrentModification:
            continue
    raise ConcurrentModification(f"API key {key_id} or its tenant keeps changing; retry")


def revoke_key(tenant: TenantId, key_id: str) -> None:
    """Revoked keys stop working within the authorisation cache's TTL (5 s at most)."""
    control.revoke_api_key(_find(tenant, key_id), utc_now())
