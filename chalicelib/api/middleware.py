"""HTTP middleware: request id, structured request log, authentication and authorisation."""

from __future__ import annotations

import time
from collections.abc import Callable

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.api.access import access_for, authorise
from chalicelib.api.problems import (
    problem_from_chalice_error,
    problem_response,
    response_for_exception,
)
from chalicelib.api.request_context import request_id_of, set_principal
from chalicelib.lazy import deferred
from chalicelib.observability import logger

# Deployed, API Gateway's authoriser has authenticated the caller (requestContext.authorizer);
# locally the principal is authenticated here. See chalicelib/api/gateway_authorizer.py.
principal_of = deferred("chalicelib.api.gateway_authorizer", "principal_of")
admit_request = deferred("chalicelib.services.usage", "admit_request")
end_request = deferred("chalicelib.services.usage", "end_request")

Middleware = Callable[[Request, Callable[[Request], Response]], Response]

_LOG_KEYS = ["request_id", "route", "tenant_id", "key_id"]


def http_middleware(app: Chalice) -> Middleware:
    def handle(request: Request, get_response: Callable[[Request], Response]) -> Response:
        started = time.perf_counter()
        request_id = request_id_of(request)
        route = str(request.context.get("resourcePath", ""))
        logger.append_keys(request_id=request_id, route=f"{request.method} {route}")
        try:
            response = _dispatch(app, request, route, request_id, get_response)
        except Exception as error:  # noqa: BLE001 - the edge answers every failure
            response = response_for_exception(error, request_id)
        finally:
            end_request()
        response.headers["X-Request-Id"] = request_id
        logger.info(
            "request",
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        logger.remove_keys(_LOG_KEYS)
        return response

    return handle


def _dispatch(
    app: Chalice,
    request: Request,
    route: str,
    request_id: str,
    get_response: Callable[[Request], Response],
) -> Response:
    methods = app.routes.get(route, {})
    if request.method not in methods:
        return problem_response(
            405,
            "Method not allowed",
            f"{request.method} is not supported on {route}",
            request_id,
            headers={"Allow": ", ".join(sorted(methods))},
        )
    rule = access_for(request.method, route)
    authorization = request.headers.get("authorization")
    is_public = rule is not None and rule.public
    principal = (
        principal_of(request.context, authorization) if authorization and not is_public else None
    )
    authorise(rule, principal, request.query_params or {}, request.uri_params or {})
    set_principal(request, principal)
    if principal is not None:
        logger.append_keys(tenant_id=principal.tenant, key_id=principal.key_id)
        if principal.tenant is not None and principal.plan is not None:
            admit_request(principal.tenant, principal.plan)
    return problem_from_chalice_error(get_response(request), request_id)
