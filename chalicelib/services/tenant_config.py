"""The tenant configuration: read by other services, replaced whole by a tenant admin."""

from __future__ import annotations

from chalicelib.dal import tenant_config as repository
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import (
    ConcurrentModification,
    FieldIssue,
    InvalidInput,
    PreconditionFailed,
)
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tenant_config import StoredConfig, TenantConfig
from chalicelib.domain.webhook_addresses import ReceiverPolicy, url_problem
from chalicelib.settings import get_settings


def get_tenant_config(tenant: TenantId) -> TenantConfig:
    return read_config(tenant).config


def read_config(tenant: TenantId) -> StoredConfig:
    """The stored configuration, or the defaults at version 0 when none was ever stored."""
    stored = repository.get_tenant_config(tenant)
    if stored is None:
        return StoredConfig(config=TenantConfig(), version=0, updated_at=None)
    return stored


def webhook_receiver_policy() -> ReceiverPolicy:
    return ReceiverPolicy(local_receivers=get_settings().webhook_local_receivers)


def replace_config(tenant: TenantId, config: TenantConfig, expected_version: int) -> StoredConfig:
    """Replaces the whole document; a `webhook_url` the receiver policy refuses is a 422."""
    if config.webhook_url is not None:
        problem = url_problem(str(config.webhook_url), webhook_receiver_policy())
        if problem is not None:
            raise InvalidInput([FieldIssue("webhook_url", problem)])
    current = read_config(tenant)
    if current.version != expected_version:
        raise PreconditionFailed(
            f"the configuration is at version {current.version}, not {expected_version}"
        )
    try:
        return repository.put_tenant_config(tenant, config, expected_version, utc_now())
    except ConcurrentModification:
        raise PreconditionFailed("the configuration changed since it was read") from None
