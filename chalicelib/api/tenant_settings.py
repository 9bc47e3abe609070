"""A tenant's own administration: its API keys and its configuration (admin keys)."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.api.routing import Call, Operations, Reply, etag_for
from chalicelib.domain.errors import PreconditionRequired
from chalicelib.domain.tenant_config import StoredConfig, TenantConfig
from chalicelib.schemas.tenants import (
    ApiKeyCreate,
    ApiKeyList,
    ApiKeyOut,
    ConfigOut,
    IssuedKeyOut,
    RotateQuery,
)
from chalicelib.services import api_keys, tenant_config

tenant_settings_api = Operations(__name__)


@tenant_settings_api.operation(
    "POST",
    "/v1/api-keys",
    summary="Issue an API key",
    tag="api-keys",
    body=ApiKeyCreate,
    response=IssuedKeyOut,
    status=201,
)
def create_key(call: Call[ApiKeyCreate, None]) -> Reply:
    """The secret appears in this response only; the plan caps how many keys a tenant has."""
    body = call.body
    issued = api_keys.create_key(call.tenant, body.role, body.label, body.expires_at)
    return Reply(IssuedKeyOut.of(issued), 201)


@tenant_settings_api.operation(
    "GET", "/v1/api-keys", summary="List API keys", tag="api-keys", response=ApiKeyList
)
def list_keys(call: Call[None, None]) -> Reply:
    """Every key of the tenant, newest first, without secrets."""
    return Reply(ApiKeyList(items=[ApiKeyOut.of(k) for k in api_keys.list_keys(call.tenant)]))


@tenant_settings_api.operation(
    "POST",
    "/v1/api-keys/{key_id}/rotate",
    summary="Rotate an API key",
    tag="api-keys",
    query=RotateQuery,
    response=IssuedKeyOut,
    status=201,
    extra_responses=(404, 409),
)
def rotate_key(call: Call[None, RotateQuery], key_id: str) -> Reply:
    """A new key with the same role; the old secret keeps working for `grace_hours` (24)."""
    grace = timedelta(hours=call.query.grace_hours)
    return Reply(IssuedKeyOut.of(api_keys.rotate_key(call.tenant, key_id, grace)), 201)


@tenant_settings_api.operation(
    "DELETE",
    "/v1/api-keys/{key_id}",
    summary="Revoke an API key",
    tag="api-keys",
    status=204,
    extra_responses=(404,),
)
def revoke_key(call: Call[None, None], key_id: str) -> Reply:
    """The key stops working within the authorisation cache time (5 s at most)."""
    api_keys.revoke_key(call.tenant, key_id)
    return Reply(None, 204)


def _config_reply(stored: StoredConfig) -> Reply:
    return Reply(ConfigOut.of(stored), headers={"ETag": etag_for(stored.version)})


@tenant_settings_api.operation(
    "GET", "/v1/config", summary="Get the configuration", tag="config", response=ConfigOut
)
def get_config(call: Call[None, None]) -> Reply:
    """The tenant's settings; a tenant that set nothing gets the defaults at version 0."""
    return _config_reply(tenant_config.read_config(call.tenant))


@tenant_settings_api.operation(
    "PUT",
    "/v1/config",
    summary="Replace the configuration",
    tag="config",
    body=TenantConfig,
    response=ConfigOut,
    extra_responses=(412, 428),
)
def put_config(call: Call[TenantConfig, None]) -> Reply:
    """Replaces the whole configuration (omitted settings take their defaults). `If-Match`
    with the current ETag is required (`"0"` while on the defaults)."""
    expected = call.if_match_version()
    if expected is None:
        raise PreconditionRequired("send If-Match with the ETag from GET /v1/config")
    return _config_reply(tenant_config.replace_config(call.tenant, call.body, expected))
