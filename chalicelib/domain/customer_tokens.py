"""Customer tokens: short-lived, signed credentials that let an app key act for one customer.

A token is `crm_ct_{payload}.{signature}`, both base64url without padding. The payload
names the tenant, the customer, the minting app key (its id, and the SHA-256 of its secret
by which authentication looks keys up) and the expiry; the signature is HMAC-SHA256 over
the payload with a key derived from the service secret. The payload is readable by whoever
holds the token: it holds ids and a hash, nothing that authenticates on its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.domain.errors import NotAuthenticated
from chalicelib.domain.ids import API_KEY_ID_PATTERN, CUSTOMER_ID_PATTERN, TENANT_ID_PATTERN
from chalicelib.domain.tenancy import TenantId

CUSTOMER_TOKEN_PREFIX = "crm_ct_"
DEFAULT_TOKEN_TTL_SECONDS = 900
MAX_TOKEN_TTL_SECONDS = 3600
_VERSION = "1"
_SEPARATOR = "|"


@dataclass(frozen=True)
class CustomerTokenClaims:
    tenant: TenantId
    customer_id: str
    key_id: str
    key_hash: str
    expires_at: datetime


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(signing_key: bytes, payload: bytes) -> bytes:
    return hmac.new(signing_key, payload, hashlib.sha256).digest()


def encode_token(claims: CustomerTokenClaims, signing_key: bytes) -> str:
    parts = [
        _VERSION,
        claims.tenant,
        claims.customer_id,
        claims.key_id,
        _b64encode(bytes.fromhex(claims.key_hash)),
        str(int(claims.expires_at.timestamp())),
    ]
    payload = _SEPARATOR.join(parts).encode()
    signature = _signature(signing_key, payload)
    return f"{CUSTOMER_TOKEN_PREFIX}{_b64encode(payload)}.{_b64encode(signature)}"


def _invalid() -> NotAuthenticated:
    return NotAuthenticated("the customer token is malformed or its signature does not match")


def decode_token(token: str, signing_key: bytes, now: datetime) -> CustomerTokenClaims:
    """The claims of a token signed with `signing_key` and not yet expired; raises
    NotAuthenticated otherwise. The signature is compared in constant time before the
    payload is interpreted."""
    try:
        payload_text, signature_text = token.removeprefix(CUSTOMER_TOKEN_PREFIX).split(".")
        payload = _b64decode(payload_text)
        signature = _b64decode(signature_text)
    except (ValueError, binascii.Error) as exc:
        raise _invalid() from exc
    if not hmac.compare_digest(signature, _signature(signing_key, payload)):
        raise _invalid()
    try:
        version, tenant, customer_id, key_id, key_hash, expiry = payload.decode().split(_SEPARATOR)
        expires_at = datetime.fromtimestamp(int(expiry), tz=UTC)
        key_hash = _b64decode(key_hash).hex()
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise _invalid() from exc
    well_formed = (
        version == _VERSION
        and TENANT_ID_PATTERN.match(tenant)
        and CUSTOMER_ID_PATTERN.match(customer_id)
        and API_KEY_ID_PATTERN.match(key_id)
    )
    if not well_formed:
        raise _invalid()
    if expires_at <= now:
        raise NotAuthenticated("the customer token has expired; mint a new one")
    return CustomerTokenClaims(TenantId(tenant), customer_id, key_id, key_hash, expires_at)
