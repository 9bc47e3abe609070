"""What the middleware learns about a request and the views read back."""

from __future__ import annotations

import uuid

from chalice.app import Request

from chalicelib.domain.tenancy import Principal

_PRINCIPAL = "customer_ops.principal"
_REQUEST_ID = "customer_ops.request_id"


def request_id_of(request: Request) -> str:
    context = request.context
    if _REQUEST_ID not in context:
        context[_REQUEST_ID] = str(context.get("requestId") or uuid.uuid4())
    return str(context[_REQUEST_ID])


def set_principal(request: Request, principal: Principal | None) -> None:
    request.context[_PRINCIPAL] = principal


def optional_principal(request: Request) -> Principal | None:
    principal = request.context.get(_PRINCIPAL)
    return principal if isinstance(principal, Principal) else None
