"""The OpenAPI 3.1 document, generated from the registered operations and their schemas."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.access import ACCESS
from chalicelib.api.routes import ROUTES, load_all_views
from chalicelib.api.routing import OPERATIONS, Operation
from chalicelib.domain.exports import CSV_MEDIA_TYPE
from chalicelib.schemas.common import Problem

_NEXT_PAGE_HEADERS = {
    "Link": {
        "description": 'The next page, as `<…>; rel="next"`; absent on the last page.',
        "schema": {"type": "string"},
    },
    "Next-Cursor": {
        "description": "The next page's cursor; absent on the last page.",
        "schema": {"type": "string"},
    },
}

_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([^}]+)}")
# Problems any call can answer: a malformed request or query (400, 422).
_ERRORS_ON_EVERY_CALL = frozenset({400, 422})
# With a key: none or a bad one (401), a role or plan that does not allow it (403), the
# tenant's rate (429), the data store or the audit trail not answering (503).
_ERRORS_WITH_A_KEY = frozenset({401, 403, 429, 503})
# With a body: too large (413), not JSON (415).
_ERRORS_WITH_A_BODY = frozenset({413, 415})
# With ids in the path: nothing of the caller's tenant has them (404).
_ERRORS_WITH_PATH_IDS = frozenset({404})
TAGS = {
    "customers": "Customer profiles and look-ups.",
    "interactions": "Every touchpoint: purchases, visits, inquiries, feedback, ...",
    "loyalty": "Points earned, redeemed and expiring; membership tiers.",
    "tickets": "Complaints and after-sales, with SLAs and satisfaction.",
    "segments": "Segments kept current from the table streams.",
    "events": "Segment events and webhook deliveries.",
    "audit": "Who touched which customer's data.",
    "analytics": "Figures kept current by the streams.",
    "duplicates": "Profiles that may be one customer, kept current by the streams.",
    "api-keys": "The tenant's own API keys (admin keys).",
    "config": "The tenant's configuration (admin keys).",
    "admin": "Platform administration (the platform-admin key).",
    "docs": "This reference.",
}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }


def problem_statuses(op: Operation) -> frozenset[int]:
    """Every problem status `op` can answer: derived from its access rule (keyed or
    public), its shape (a body, path ids) and the errors its view declares."""
    rule = ACCESS.get((op.method, op.path))
    statuses = set(_ERRORS_ON_EVERY_CALL)
    if rule is None or not rule.public:
        statuses |= _ERRORS_WITH_A_KEY
    if op.body is not None or op.file_media_types:
        statuses |= _ERRORS_WITH_A_BODY
    if _PATH_PARAM.search(op.path):
        statuses |= _ERRORS_WITH_PATH_IDS
    statuses |= {status for status in op.extra_responses if status >= 400}
    if _under_a_customer(op) and op.method != "GET":
        statuses.add(409)  # a write to a merged customer (issue 16)
    return frozenset(statuses)


_CUSTOMER_PATH = "/v1/customers/{customer_id}"


def _under_a_customer(op: Operation) -> bool:
    return op.path == _CUSTOMER_PATH or op.path.startswith(_CUSTOMER_PATH + "/")


def _merged_response() -> dict[str, Any]:
    """A read of a customer merged into another one (issue 16)."""
    return {
        **_problem_response(301),
        "description": "The customer was merged into another one: `Location` is the "
        "survivor's path; the problem body names `merged_into` and `merge_id`.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    }


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    for name, definition in schema.get("$defs", {}).items():
        schemas.setdefault(name, definition)
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": definition.get("description", ""),
            "schema": {k: v for k, v in definition.items() if k != "description"},
        }
        for name, definition in schema.get("properties", {}).items()
    ]


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    rule = ACCESS.get((op.method, op.path))
    roles = "public" if rule is None or rule.public else ", ".join(sorted(rule.roles))
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(op.path)
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query, schemas)
    success: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
    if op.response is not None:
        success["content"] = {
            op.media_type: {"schema": {"$ref": _REF.format(model=op.response.__name__)}}
        }
    elif op.media_type == CSV_MEDIA_TYPE:
        success["content"] = {op.media_type: {"schema": {"type": "string"}}}
        success["headers"] = _NEXT_PAGE_HEADERS
    responses: dict[str, Any] = {str(op.status): success}
    for status in sorted(problem_statuses(op)):
        responses[str(status)] = _problem_response(status)
    if 304 in op.extra_responses:
        responses["304"] = {"description": "Not modified"}
    if _under_a_customer(op) and op.method == "GET":
        responses["301"] = _merged_response()
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": f"{op.description}\n\nRoles: {roles}.".strip(),
        "tags": [op.tag],
        "parameters": parameters,
        "responses": responses,
    }
    if op.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model=op.body.__name__)}}
            },
        }
    if op.file_media_types:
        binary = {"schema": {"type": "string", "format": "binary"}}
        document["requestBody"] = {
            "required": True,
            "content": {media_type: binary for media_type in op.file_media_types},
        }
    if rule is not None and rule.public:
        document["security"] = []
    return document


def build_openapi() -> dict[str, Any]:
    """Every route of the route table, described from its view's declaration."""
    load_all_views()
    models = {Problem} | {m for op in OPERATIONS for m in (op.body, op.response) if m is not None}
    _, definitions = models_json_schema(
        [(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    for model in models:
        if model.__name__ not in schemas:
            schemas[model.__name__] = model.model_json_schema(ref_template=_REF)
    documented = {(op.method, op.path): op for op in OPERATIONS}
    paths: dict[str, dict[str, Any]] = {}
    for method, path in sorted(ROUTES, key=lambda route: (route[1], route[0])):
        op = documented.get((method, path))
        entry = _operation(op, schemas) if op else {"summary": f"{method} {path}"}
        paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Customer operations API",
            "version": "1.0.0",
            "description": (
                "Multi-tenant customer profiles, interactions, loyalty and service tickets. "
                "Authenticate with `Authorization: Bearer <key>`; the key decides the tenant. "
                "Errors are RFC 9457 problem details."
            ),
        },
        "servers": [{"url": "..", "description": "this deployment (relative to this document)"}],
        "tags": [
            {"name": name, "description": description}
            for name, description in TAGS.items()
            if any(op.tag == name for op in OPERATIONS)
        ],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
        "paths": paths,
    }
