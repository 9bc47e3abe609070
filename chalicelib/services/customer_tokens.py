"""Customer tokens: an app key exchanges itself for a credential scoped to one customer.

Verifying a token checks its signature and expiry, then authenticates the app key that
minted it through the same key lookup as a bearer key (`auth.principal_for_key`): revoking
that key, or suspending the tenant, ends its tokens as it ends the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.dal import control
from chalicelib.dal import customers as customer_repository
from chalicelib.domain.clock import utc_now
from chalicelib.domain.customer_tokens import (
    DEFAULT_TOKEN_TTL_SECONDS,
    CustomerTokenClaims,
    decode_token,
    encode_token,
)
from chalicelib.domain.customers import UniqueField
from chalicelib.domain.errors import Forbidden, NotAuthenticated, NotFound
from chalicelib.domain.tenancy import Principal, Role, TenantId
from chalicelib.services.auth import principal_for_key
from chalicelib.services.customers import get_customer
from chalicelib.settings import get_settings


def signing_key() -> bytes:
    """The tokens' HMAC key, derived from the service secret under its own label (as the
    audit digests' key is), so a token cannot pass for a cursor or a digest."""
    return get_settings().derived_key("customer token key")


@dataclass(frozen=True)
class MintedToken:
    token: str
    customer_id: str
    expires_at: datetime


def _customer_named(tenant: TenantId, customer_id: str | None, external_id: str | None) -> str:
    if customer_id is not None:
        return get_customer(tenant, customer_id).id
    found = customer_repository.find_customer_id(tenant, UniqueField.EXTERNAL_ID, external_id or "")
    if found is None:
        raise NotFound("no customer has the external_id given")
    return found


def mint_customer_token(
    tenant: TenantId,
    key_id: str,
    customer_id: str | None,
    external_id: str | None,
    ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
) -> MintedToken:
    """A token of the app key `key_id` for an existing customer of its tenant (404
    otherwise). Costs a read of the customer (or its external id claim) and one Query for
    the key's record, whose secret hash the token names."""
    customer = _customer_named(tenant, customer_id, external_id)
    key = control.find_api_key(tenant, key_id)
    if key is None or key.role is not Role.APP:
        raise Forbidden("customer tokens are minted with a tenant's app key")
    expires_at = (utc_now() + timedelta(seconds=ttl_seconds)).replace(microsecond=0)
    claims = CustomerTokenClaims(tenant, customer, key.key_id, key.key_hash, expires_at)
    return MintedToken(encode_token(claims, signing_key()), customer, expires_at)


def authenticate_customer_token(token: str) -> Principal:
    claims = decode_token(token, signing_key(), utc_now())
    minter = principal_for_key(claims.key_hash)
    if (
        minter.role is not Role.APP
        or minter.key_id != claims.key_id
        or minter.tenant != claims.tenant
    ):
        raise NotAuthenticated("the customer token was not minted by a usable app key")
    return Principal(
        key_id=minter.key_id,
        role=Role.CUSTOMER,
        tenant=minter.tenant,
        plan=minter.plan,
        customer_id=claims.customer_id,
        expires_at=claims.expires_at,
    )
