"""The tenant configuration other services read (defaults until a tenant sets its own)."""

from __future__ import annotations

from chalicelib.dal import control
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tenant_config import TenantConfig


def get_tenant_config(tenant: TenantId) -> TenantConfig:
    stored = control.get_tenant_config(tenant)
    return stored.config if stored is not None else TenantConfig()
