"""Tenant configuration repository: the one `CONFIG` item of a tenant's control-table
partition, its document the whole configuration as JSON, versioned. Apart from the
control-table module so that authenticating a request (which reads keys and tenants)
does not load the configuration model."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import PutError

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.control import config_item
from chalicelib.dal.models import TenantConfigItem
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tenant_config import StoredConfig, TenantConfig


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


def put_tenant_config(
    tenant: TenantId, config: TenantConfig, expected_version: int, now: datetime
) -> StoredConfig:
    """Replace the configuration if it is still at `expected_version` (0: none stored)."""
    bound_settings()
    item = config_item(tenant, config, now)
    if expected_version > 0:
        item.version = expected_version
    try:
        item.save()
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise ConcurrentModification("the configuration changed since it was read") from exc
        raise
    return StoredConfig(config=config, version=expected_version + 1, updated_at=now)
