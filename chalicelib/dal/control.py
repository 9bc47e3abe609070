"""Control-plane repository: tenants and API keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from pynamodb.exceptions import PutError

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.models import ApiKeyItem, TenantConfigItem, TenantItem
from chalicelib.dal.transactions import LabelledTransaction, commit_with_retry
from chalicelib.domain.clock import sortable_timestamp
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.tenancy import (
    ApiKey,
    Plan,
    Role,
    StoredConfig,
    Tenant,
    TenantId,
    TenantStatus,
)
from chalicelib.domain.tenant_config import TenantConfig

PLATFORM_KEYS_OWNER = "PLATFORM#KEYS"


def _tenant_item(tenant: Tenant) -> TenantItem:
    return TenantItem(
        pk=keys.tenant_pk(tenant.id),
        sk=keys.TENANT_SK,
        gsi1pk=keys.TENANTS_GSI_PK,
        gsi1sk=f"{sortable_timestamp(tenant.created_at)}#{tenant.id}",
        tenant_id=tenant.id,
        name=tenant.name,
        plan=tenant.plan.value,
        status=tenant.status.value,
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
    )


def _to_tenant(item: TenantItem) -> Tenant:
    return Tenant(
        id=TenantId(item.tenant_id),
        name=item.name,
        plan=Plan(item.plan),
        status=TenantStatus(item.status),
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
    )


def _key_item(key: ApiKey) -> ApiKeyItem:
    owner = f"{keys.tenant_pk(key.tenant)}#KEYS" if key.tenant else PLATFORM_KEYS_OWNER
    return ApiKeyItem(
        pk=keys.api_key_pk(key.key_hash),
        sk=keys.API_KEY_SK,
        gsi1pk=owner,
        gsi1sk=key.key_id,
        key_id=key.key_id,
        tenant_id=key.tenant,
        role=key.role.value,
        label=key.label,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


def _to_key(item: ApiKeyItem) -> ApiKey:
    return ApiKey(
        key_id=item.key_id,
        key_hash=item.pk.removeprefix("APIKEY#"),
        role=Role(item.role),
        tenant=TenantId(item.tenant_id) if item.tenant_id else None,
        created_at=item.created_at,
        label=item.label,
        expires_at=item.expires_at,
        revoked_at=item.revoked_at,
    )


def insert_tenant(tenant: Tenant, first_key: ApiKey) -> None:
    """Create a tenant and its first admin key together."""
    bound_settings()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        transaction.put("tenant", _tenant_item(tenant), condition=TenantItem.pk.does_not_exist())
        transaction.put("key", _key_item(first_key), condition=ApiKeyItem.pk.does_not_exist())
        return transaction

    commit_with_retry(build)


def get_tenant(tenant: TenantId) -> Tenant | None:
    bound_settings()
    try:
        return _to_tenant(TenantItem.get(keys.tenant_pk(tenant), keys.TENANT_SK))
    except TenantItem.DoesNotExist:
        return None


def iter_tenants() -> Iterator[Tenant]:
    """Every tenant, oldest first: a paged Query on gsi1's `TENANTS` partition."""
    bound_settings()
    for item in TenantItem.by_created.query(keys.TENANTS_GSI_PK):
        yield _to_tenant(item)


def get_api_key(key_hash: str) -> ApiKey | None:
    bound_settings()
    try:
        return _to_key(ApiKeyItem.get(keys.api_key_pk(key_hash), keys.API_KEY_SK))
    except ApiKeyItem.DoesNotExist:
        return None


def insert_platform_key(key: ApiKey) -> None:
    if key.tenant is not None or key.role is not Role.PLATFORM_ADMIN:
        raise ValueError("a platform key has the platform_admin role and no tenant")
    bound_settings()
    _key_item(key).save(condition=ApiKeyItem.pk.does_not_exist())


def insert_api_key(key: ApiKey) -> None:
    """Store a new tenant key; the tenant must exist."""
    if key.tenant is None:
        raise ValueError("a tenant key needs its tenant")
    bound_settings()
    _key_item(key).save(condition=ApiKeyItem.pk.does_not_exist())


def set_tenant_status(tenant: Tenant, status: TenantStatus, now: datetime) -> Tenant:
    """Change a tenant's status, guarded by the version read (optimistic locking)."""
    bound_settings()
    changed = replace(tenant, status=status, updated_at=now)
    item = _tenant_item(changed)
    item.version = tenant.version
    try:
        item.save()
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise ConcurrentModification(f"tenant {tenant.id} changed concurrently") from exc
        raise
    return replace(changed, version=tenant.version + 1)


def get_tenant_config(tenant: TenantId) -> StoredConfig | None:
    bound_settings()
    try:
        item = TenantConfigItem.get(keys.tenant_pk(tenant), keys.TENANT_CONFIG_SK)
    except TenantConfigItem.DoesNotExist:
        return None
    return StoredConfig(
        config=TenantConfig.model_validate_json(item.document),
        version=int(item.version or 0),
        updated_at=item.updated_at,
    )
