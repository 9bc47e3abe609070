"""Authentication: bearer key → principal, cached per process for at most the TTL.

A request costs one control-plane read on a cold cache (the key) plus one for its tenant,
and none on a warm one. Revoking a key or suspending a tenant takes effect within the TTL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from chalicelib.dal import control
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import Forbidden, NotAuthenticated
from chalicelib.domain.tenancy import ApiKey, Principal, Tenant, TenantStatus, hash_secret
from chalicelib.settings import get_settings

_MAX_SECRET_LENGTH = 256


@dataclass(frozen=True)
class _Cached:
    value: object
    expires: float


_cache: dict[str, _Cached] = {}


def clear_cache() -> None:
    _cache.clear()


def _cached_lookup(cache_key: str, load: object) -> object:
    now = time.monotonic()
    entry = _cache.get(cache_key)
    if entry is not None and entry.expires > now:
        return entry.value
    value = load() if callable(load) else None
    ttl = get_settings().auth_cache_seconds
    if ttl > 0:
        _cache[cache_key] = _Cached(value, now + ttl)
    return value


def _bearer_secret(authorization: str | None) -> str:
    if not authorization:
        raise NotAuthenticated("send an API key as 'Authorization: Bearer <key>'")
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or len(secret) > _MAX_SECRET_LENGTH:
        raise NotAuthenticated("the Authorization header must be 'Bearer <key>'")
    return secret


def authenticate(authorization: str | None) -> Principal:
    key_hash = hash_secret(_bearer_secret(authorization))
    key = _cached_lookup(f"key:{key_hash}", lambda: control.get_api_key(key_hash))
    if not isinstance(key, ApiKey) or not key.is_usable(utc_now()):
        raise NotAuthenticated("the API key is unknown, expired or revoked")
    if key.tenant is not None:
        tenant_id = key.tenant
        tenant = _cached_lookup(f"tenant:{tenant_id}", lambda: control.get_tenant(tenant_id))
        if not isinstance(tenant, Tenant) or tenant.status is TenantStatus.DELETED:
            raise NotAuthenticated("the API key is unknown, expired or revoked")
        if tenant.status is TenantStatus.SUSPENDED:
            raise Forbidden(f"tenant {tenant.id} is suspended")
    return Principal(key_id=key.key_id, role=key.role, tenant=key.tenant)
