"""The deployed API's Lambda authoriser (invoked as API Gateway does, through app.py's
handler) against moto's tables, and the API function's trust in its context."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.api.gateway_authorizer import (
    Unauthorized,
    principal_context,
    principal_from_context,
    principal_of,
)
from chalicelib.domain.clock import utc_now
from chalicelib.domain.customer_tokens import CustomerTokenClaims, encode_token
from chalicelib.domain.errors import NotAuthenticated
from chalicelib.domain.gateway import gateway_key_name
from chalicelib.domain.tenancy import Plan, Principal, Role, hash_secret, tenant_id
from chalicelib.services.customer_tokens import signing_key
from tests.integration.conftest import ADMIN_SECRET
from tests.support.api import Api

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/api/GET/v1/customers/cus_1"
WHOLE_API = "arn:aws:execute-api:eu-west-1:123456789012:abc123/api/*/*"


def _authorize(token: str) -> dict[str, Any]:
    from app import authorize_request

    event = {"type": "TOKEN", "authorizationToken": token, "methodArn": METHOD_ARN}
    answer: dict[str, Any] = authorize_request(event, None)
    return answer


def _statement(answer: dict[str, Any]) -> dict[str, Any]:
    (statement,) = answer["policyDocument"]["Statement"]
    return dict(statement)


def test_a_tenant_key_is_allowed_on_the_whole_api_with_its_tenant_and_usage_key(
    tenant_a: Api,
) -> None:
    # When API Gateway asks about a tenant's admin key
    answer = _authorize(f"Bearer {tenant_a.key}")
    # Then every method of the API is allowed (the answer is cached across methods)
    assert _statement(answer) == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": WHOLE_API,
    }
    # and the context names the principal, the usage key names the tenant's gateway key
    tenant = tenant_id(str(tenant_a.tenant_id))
    assert answer["context"] == {
        "key_id": answer["principalId"],
        "role": "admin",
        "tenant_id": tenant,
        "plan": "free",
        "customer_id": "",
        "expires_at": "",
    }
    assert answer["usageIdentifierKey"] == gateway_key_name("local", tenant)
    assert all(isinstance(value, str) for value in answer["context"].values())


def test_the_platform_key_uses_the_platform_usage_key(platform: Api) -> None:
    answer = _authorize(f"Bearer {ADMIN_SECRET}")
    assert _statement(answer)["Effect"] == "Allow"
    assert answer["context"]["role"] == "platform_admin"
    assert answer["context"]["tenant_id"] == ""
    assert answer["usageIdentifierKey"] == gateway_key_name("local", None)


@pytest.mark.parametrize("token", ["Bearer crm_unknown_" + "z" * 40, "Basic abc", "Bearer "])
def test_an_unknown_or_malformed_key_is_unauthorized(tenant_a: Api, token: str) -> None:
    with pytest.raises(Unauthorized, match=r"^Unauthorized$"):
        _authorize(token)


def test_a_revoked_key_is_unauthorized(tenant_a: Api) -> None:
    # Given a second admin key, revoked
    created = tenant_a.post("/v1/api-keys", {"role": "staff", "label": "to revoke"})
    assert created.status == 201, created.text
    assert tenant_a.delete(f"/v1/api-keys/{created.json['id']}").status == 204
    # Then the authoriser refuses it
    with pytest.raises(Unauthorized):
        _authorize(f"Bearer {created.json['key']}")


def test_a_suspended_tenants_key_is_denied(platform: Api, tenant_a: Api) -> None:
    # Given the tenant is suspended
    suspended = platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend")
    assert suspended.status == 200, suspended.text
    # Then its key gets an explicit Deny (API Gateway answers 403) and no usage key
    answer = _authorize(f"Bearer {tenant_a.key}")
    assert _statement(answer)["Effect"] == "Deny"
    assert "usageIdentifierKey" not in answer
    assert "suspended" in answer["context"]["reason"]


def test_the_api_function_takes_the_authorisers_principal_as_is(tenant_a: Api) -> None:
    # Given the context API Gateway passes on for a tenant key
    principal = Principal(
        key_id="key_not_stored",
        role=Role.STAFF,
        tenant=tenant_id(str(tenant_a.tenant_id)),
        plan=Plan.STANDARD,
    )
    context = {"authorizer": {**principal_context(principal), "principalId": "key_not_stored"}}
    # Then the principal is taken from it without authenticating the header again (which
    # would fail: neither the header's key nor the context's key id is stored)
    assert principal_of(context, "Bearer crm_not_stored_" + "w" * 40) == principal


def test_a_customer_token_passes_its_customer_through_the_authoriser(tenant_a: Api) -> None:
    # Given a customer token minted by an app key
    customer = tenant_a.create_customer(name="Ann")
    app, key_id = tenant_a.create_key("app")
    token = app.post("/v1/customer-tokens", {"customer_id": customer["id"]}).json["token"]

    # When API Gateway asks about it
    answer = _authorize(f"Bearer {token}")

    # Then the context names the minting key, the customer role and the customer, and the
    # API function reads the same principal back from it
    assert _statement(answer)["Effect"] == "Allow"
    assert answer["context"]["key_id"] == key_id
    assert answer["context"]["role"] == "customer"
    assert answer["context"]["customer_id"] == customer["id"]
    principal = principal_from_context({"authorizer": answer["context"]})
    assert principal is not None and principal.customer_id == customer["id"]
    assert principal.role is Role.CUSTOMER and principal.tenant == tenant_a.tenant_id


def test_a_cached_answer_for_a_customer_token_ends_when_the_token_expires(
    tenant_a: Api,
) -> None:
    # Given the authoriser's answer for a token, as API Gateway would keep it in its cache
    customer = tenant_a.create_customer(name="Ann")
    app, key_id = tenant_a.create_key("app")
    assert app.key is not None and tenant_a.tenant_id is not None
    claims = CustomerTokenClaims(
        tenant_id(tenant_a.tenant_id),
        customer["id"],
        key_id,
        hash_secret(app.key),
        utc_now() + timedelta(seconds=2),
    )
    token = encode_token(claims, signing_key())
    context = {"authorizer": _authorize(f"Bearer {token}")["context"]}
    assert principal_of(context, f"Bearer {token}").customer_id == customer["id"]

    # When the token has expired, though the cached answer is still passed on
    expired = {"authorizer": {**context["authorizer"], "expires_at": str(int(time.time()) - 1)}}

    # Then the API function does not take it, and authenticating the header refuses it
    expired_token = encode_token(replace(claims, expires_at=utc_now()), signing_key())
    assert principal_from_context(expired) is None
    with pytest.raises(NotAuthenticated):
        principal_of(expired, f"Bearer {expired_token}")


def test_without_an_authoriser_the_api_function_authenticates(tenant_a: Api) -> None:
    # Locally (make run, the test client) there is no authoriser context
    assert principal_from_context({}) is None
    assert principal_from_context({"authorizer": {"principalId": "x"}}) is None
    assert principal_of({}, f"Bearer {tenant_a.key}").tenant == tenant_a.tenant_id
    with pytest.raises(NotAuthenticated):
        principal_of({}, "Bearer crm_nope_" + "q" * 40)
