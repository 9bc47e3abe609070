"""Opaque, tamper-proof cursors.

A cursor carries DynamoDB's LastEvaluatedKey together with the tenant and the query it
belongs to, signed with HMAC-SHA256. A cursor that was altered, or that is replayed by
another tenant or against another query, fails verification.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from chalicelib.domain.errors import MalformedRequest
from chalicelib.domain.tenancy import TenantId
from chalicelib.settings import get_settings

_VERSION = 1
T = TypeVar("T")


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: bytes, tenant: TenantId, query: str) -> bytes:
    secret = get_settings().cursor_secret.get_secret_value().encode()
    message = b"\x00".join([str(_VERSION).encode(), tenant.encode(), query.encode(), payload])
    return hmac.new(secret, message, hashlib.sha256).digest()


def encode_cursor(tenant: TenantId, query: str, last_evaluated_key: dict[str, Any]) -> str:
    payload = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64encode(payload)}.{_b64encode(_signature(payload, tenant, query))}"


def decode_cursor(tenant: TenantId, query: str, cursor: str) -> dict[str, Any]:
    invalid = MalformedRequest("cursor is not valid for this query; start again without a cursor")
    try:
        payload_text, signature_text = cursor.split(".")
        payload = _b64decode(payload_text)
        signature = _b64decode(signature_text)
    except (ValueError, UnicodeError) as exc:
        raise invalid from exc
    if not hmac.compare_digest(signature, _signature(payload, tenant, query)):
        raise invalid
    try:
        key = json.loads(payload)
    except ValueError as exc:
        raise invalid from exc
    if not isinstance(key, dict):
        raise invalid
    return key


def page_of(
    tenant: TenantId,
    query: str,
    fetch: Callable[[int, dict[str, Any] | None], list[T]],
    limit: int,
    cursor: str | None,
    key_names: Sequence[str],
) -> tuple[list[T], str | None]:
    """One page of a Query: `fetch(limit, start)` runs it for up to `limit` items from
    `start`; one extra item tells whether there is a next page, whose cursor is the last
    returned item's key (`key_names`: the table's and the index's key attributes)."""
    start = decode_cursor(tenant, query, cursor) if cursor else None
    items = fetch(limit + 1, start)
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    last = items[-1]
    key = {name: {"S": getattr(last, name)} for name in key_names}
    return items, encode_cursor(tenant, query, key)
