"""Authentication: bearer key → principal, cached per process for at most the TTL.

A request costs one control-plane read on a cold cache (the key item, which carries a copy
of its tenant's status and plan) and none on a warm one. Revoking a key or suspending a
tenant takes effect within the TTL (`AUTH_CACHE_SECONDS`, at most 5 s). Only keys that
exist are cached, in a bounded LRU: an unknown secret is read again every time (a key
created a moment ago works at once, and a flood of made-up secrets cannot grow the cache).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar, cast

from aws_lambda_powertools.shared.cache_dict import LRUDict

from chalicelib.caching import DEFAULT_MAX_ITEMS, ExpiringLruCache
from chalicelib.dal import control
from chalicelib.domain.clock import utc_now
from chalicelib.domain.customer_tokens import CUSTOMER_TOKEN_PREFIX
from chalicelib.domain.errors import Forbidden, NotAuthenticated
from chalicelib.domain.tenancy import ApiKey, Principal, TenantStatus, hash_secret
from chalicelib.settings import get_settings

_MAX_SECRET_LENGTH = 256
LAST_USED_RESOLUTION = timedelta(minutes=1)

_cache: ExpiringLruCache[object] = ExpiringLruCache(max_items=DEFAULT_MAX_ITEMS)
"""Found credentials by `kind:hash` (bounded LRU, each kept for AUTH_CACHE_SECONDS)."""
T = TypeVar("T")


def clear_cache() -> None:
    _cache.clear()
    _last_recorded.clear()


def _cached_lookup(cache_key: str, load: Callable[[], T | None]) -> T | None:
    """`load()`'s answer, reused for the TTL when it found something; a miss is never kept."""
    cached = _cache.get(cache_key)
    if cached is not None:
        return cast(T, cached)
    value = load()
    if value is not None:
        _cache.put(cache_key, value, get_settings().auth_cache_seconds)
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
    secret = _bearer_secret(authorization)
    if secret.startswith(CUSTOMER_TOKEN_PREFIX):
        from chalicelib.services.customer_tokens import authenticate_customer_token

        return authenticate_customer_token(secret)
    return principal_for_key(hash_secret(secret))


def principal_for_key(key_hash: str) -> Principal:
    """The principal of the key whose secret hashes to `key_hash`, if it is usable (customer
    tokens come through here too, for the key that minted them)."""
    key = _cached_lookup(f"key:{key_hash}", lambda: control.get_api_key(key_hash))
    now = utc_now()
    if not isinstance(key, ApiKey) or not key.is_usable(now):
        raise NotAuthenticated("the API key is unknown, expired or revoked")
    _record_use(key, now)
    if key.tenant is None:
        return Principal(key_id=key.key_id, role=key.role, tenant=None)
    if key.tenant_status in (TenantStatus.DELETED, None) or key.tenant_plan is None:
        raise NotAuthenticated("the API key is unknown, expired or revoked")
    if key.tenant_status is TenantStatus.SUSPENDED:
        raise Forbidden(f"tenant {key.tenant} is suspended")
    return Principal(key_id=key.key_id, role=key.role, tenant=key.tenant, plan=key.tenant_plan)


_last_recorded: LRUDict = LRUDict(max_items=DEFAULT_MAX_ITEMS)
"""key hash → when this process last recorded the key's use (bounded like `_cache`)."""


def _record_use(key: ApiKey, now: datetime) -> None:
    """Write `last_used_at` at most once a minute per key: skipped in-process when this
    process recorded it recently, and conditioned in DynamoDB against other processes."""
    recent = now - LAST_USED_RESOLUTION
    if key.key_hash in _last_recorded and _last_recorded[key.key_hash] > recent:
        return
    _last_recorded[key.key_hash] = now
    control.touch_api_key(key, now, not_before=recent)
