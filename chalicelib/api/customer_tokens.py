"""Customer tokens: an app key's credential for one customer."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.schemas.customer_tokens import CustomerTokenCreate, CustomerTokenOut
from chalicelib.services import customer_tokens as service

customer_tokens_api = Operations(__name__)


@customer_tokens_api.operation(
    "POST",
    "/v1/customer-tokens",
    summary="Mint a customer token",
    tag="customer-tokens",
    body=CustomerTokenCreate,
    response=CustomerTokenOut,
    status=201,
    extra_responses=(404,),
)
def mint_customer_token(call: Call[CustomerTokenCreate, None]) -> Reply:
    """App keys only. A signed token, valid for `ttl_seconds` (default 900, at most 3600),
    with which the mobile backend reads and changes only this customer's data. It stops
    working when the app key that minted it is revoked or the tenant is suspended."""
    body = call.body
    minted = service.mint_customer_token(
        call.tenant, call.actor, body.customer_id, body.external_id, body.ttl_seconds
    )
    reply = CustomerTokenOut(
        token=minted.token, customer_id=minted.customer_id, expires_at=minted.expires_at
    )
    return Reply(reply, 201)
