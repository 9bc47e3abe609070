"""The deployed API's Lambda authoriser, and how the API function trusts its answer.

API Gateway calls `authorize_request` with the request's Authorization header (a TOKEN
authoriser) before any non-public method, and caches the answer per header value for the stage's
`auth_cache_seconds` (infra/stages.py, at most 5 s); the authoriser function itself runs with
AUTH_CACHE_SECONDS=0, so the two caches do not add up. The answer:

- an IAM policy allowing every method of the API: a cached answer is reused for whatever
  the same key calls next, so the policy cannot be per route; roles are checked by the
  application (chalicelib/api/access.py) on every request;
- a context with the principal (tenant id, key id, role, plan, and a customer token's
  customer id), which API Gateway passes to
  the API function as `requestContext.authorizer`;
- `usageIdentifierKey`: the value of the tenant's API Gateway key (the API's key source is
  AUTHORIZER), so API Gateway counts the request against the tenant's own throttle in its
  plan's usage plan.

A bad, expired or revoked key fails with "Unauthorized" (API Gateway's 401); a suspended
tenant's key gets a Deny policy (403). Authentication itself is the application's
(`chalicelib.services.auth.authenticate`: one control-table read, the key item carries its
tenant's status and plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalice.app import AuthRequest

from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import Forbidden, NotAuthenticated
from chalicelib.domain.gateway import gateway_key_name
from chalicelib.domain.tenancy import Plan, Principal, Role, TenantId


class Unauthorized(Exception):
    """API Gateway answers 401 when a TOKEN authoriser fails with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _api_arn(method_arn: str) -> str:
    """arn:…:execute-api:region:account:api-id/stage/METHOD/path → …:api-id/stage/*/*"""
    api, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    return f"{api}/{stage}/*/*"


def _policy(effect: str, method_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": _api_arn(method_arn)}
        ],
    }


def principal_context(principal: Principal) -> dict[str, str]:
    """What the API function receives as `requestContext.authorizer` (strings only)."""
    return {
        "key_id": principal.key_id,
        "role": principal.role.value,
        "tenant_id": principal.tenant or "",
        "plan": principal.plan.value if principal.plan else "",
        "customer_id": principal.customer_id or "",
        "expires_at": str(int(principal.expires_at.timestamp())) if principal.expires_at else "",
    }


def authorize_request(request: AuthRequest) -> dict[str, Any]:
    from chalicelib.services.auth import authenticate
    from chalicelib.settings import get_settings

    try:
        principal = authenticate(request.token)
    except NotAuthenticated:
        raise Unauthorized() from None
    except Forbidden as refused:
        return {
            "principalId": "refused",
            "policyDocument": _policy("Deny", request.method_arn),
            "context": {"reason": refused.detail},
        }
    return {
        "principalId": principal.key_id,
        "policyDocument": _policy("Allow", request.method_arn),
        "context": principal_context(principal),
        "usageIdentifierKey": gateway_key_name(get_settings().stage, principal.tenant),
    }


def principal_from_context(context: Mapping[str, Any]) -> Principal | None:
    """The principal the authoriser put in `requestContext.authorizer`, if it did.

    Only API Gateway writes `requestContext` (the API function may be invoked by API
    Gateway alone), so the application takes it as is instead of authenticating again;
    locally there is no authoriser and this answers None. So does the cached answer for a
    customer token that has expired since: the header is then authenticated again, and
    refused.
    """
    answer = context.get("authorizer")
    if not isinstance(answer, Mapping) or not answer.get("key_id") or not answer.get("role"):
        return None
    try:
        role = Role(str(answer["role"]))
        plan = Plan(str(answer["plan"])) if answer.get("plan") else None
        expires_at = (
            datetime.fromtimestamp(int(answer["expires_at"]), tz=UTC)
            if answer.get("expires_at")
            else None
        )
    except ValueError:
        return None
    if expires_at is not None and expires_at <= utc_now():
        return None
    tenant = TenantId(str(answer["tenant_id"])) if answer.get("tenant_id") else None
    customer_id = str(answer["customer_id"]) if answer.get("customer_id") else None
    return Principal(
        key_id=str(answer["key_id"]),
        role=role,
        tenant=tenant,
        plan=plan,
        customer_id=customer_id,
        expires_at=expires_at,
    )


def principal_of(context: Mapping[str, Any], authorization: str | None) -> Principal:
    """The caller: as the deployed authoriser established it, else authenticated here."""
    from chalicelib.services.auth import authenticate

    principal = principal_from_context(context)
    if principal is not None:
        return principal
    result: Principal = authenticate(authorization)
    return result
