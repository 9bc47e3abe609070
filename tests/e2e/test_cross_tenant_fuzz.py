"""Tenant isolation over every route with ids in its path, walked from the served OpenAPI
document (a new route is covered without an edit here): tenant B's admin key, aimed at
tenant A's ids with schema-valid generated bodies and queries, is answered 404
problem+json, and A's data reads the same afterwards.

Platform routes (`/v1/admin/...`, the platform-admin key only) and public routes (the
docs page's assets) hold no tenant's data and are not walked. A path parameter this
module does not know by name gets every one of A's ids in turn: none of them may be
found with B's key either.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from chalicelib.api.access import access_for
from chalicelib.api.openapi import build_openapi
from chalicelib.domain.tenancy import Role
from tests.e2e.conftest import LocalStack
from tests.support.api import Api
from tests.support.seed import seed_one_of_each

EXAMPLES_PER_ROUTE = 12
# Answers that would reveal one of A's resources to B: a conflict with its state, or its
# version checked.
REVEALING = frozenset({409, 412, 428})


def _tenant_routes_with_path_ids() -> list[tuple[str, str]]:
    routes = []
    for path, methods in build_openapi()["paths"].items():
        for method in methods:
            rule = access_for(method.upper(), path)
            if "{" not in path or rule is None or rule.public:
                continue
            if Role.PLATFORM_ADMIN not in rule.roles:
                routes.append((method.upper(), path))
    return routes


def _reads_of_a(a: Api, ids: dict[str, str]) -> dict[str, Any]:
    """What A reads of each of its resources: status, ETag, and the ids and versions of
    what the body holds (the stream may still add metrics, which is not B's doing)."""
    reads: dict[str, Any] = {}
    for method, path in _tenant_routes_with_path_ids():
        if method != "GET":
            continue
        concrete = path.format(**{name: ids.get(name, "none") for name in _path_names(path)})
        answer = a.get(concrete)
        body = answer.json if answer.content_type.startswith("application/json") else None
        reads[concrete] = (answer.status, answer.headers.get("etag"), _identity(body))
    return reads


def _path_names(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def _identity(body: Any) -> Any:
    if isinstance(body, dict):
        if isinstance(body.get("items"), list):
            return sorted(json.dumps(_identity(item), sort_keys=True) for item in body["items"])
        return {
            name: body.get(name)
            for name in ("id", "version", "status", "updated_at", "revoked_at", "balance")
        }
    return body


@pytest.fixture(scope="module")
def two_tenants(isolated_platform: Api) -> tuple[Api, Api, dict[str, str]]:
    a = isolated_platform.create_tenant("Isolated A")
    b = isolated_platform.create_tenant("Prying B")
    b.create_customer(name="B's own", email="b@example.com")
    return a, b, seed_one_of_each(a)


@pytest.fixture(scope="module")
def a_as_seeded(two_tenants: tuple[Api, Api, dict[str, str]]) -> dict[str, Any]:
    """A's reads once, before any of B's requests: each route's walk must leave them so."""
    a, _, a_ids = two_tenants
    return _reads_of_a(a, a_ids)


@pytest.fixture(scope="module")
def served_schema(isolated_stack: LocalStack) -> Any:
    import schemathesis

    return schemathesis.openapi.from_url(f"{isolated_stack.base_url}/v1/openapi.json")


@pytest.mark.parametrize(("method", "path"), _tenant_routes_with_path_ids())
def test_another_tenants_ids_are_not_found(
    method: str,
    path: str,
    isolated_stack: LocalStack,
    served_schema: Any,
    two_tenants: tuple[Api, Api, dict[str, str]],
    a_as_seeded: dict[str, Any],
) -> None:
    a, b, a_ids = two_tenants
    operation = served_schema[path][method.lower()]
    names = _path_names(path)
    answers: list[tuple[int, str]] = []

    @given(
        case=operation.as_strategy(GenerationMode.POSITIVE),
        any_of_a=st.lists(st.sampled_from(sorted(a_ids.values())), min_size=len(names)),
    )
    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def b_cannot_reach_a(case: Any, any_of_a: list[str]) -> None:
        # Given a valid request for this route, its path ids all A's
        case.path_parameters = {
            name: a_ids.get(name, any_of_a[index]) for index, name in enumerate(names)
        }

        # When B's admin key sends it
        response = case.call(
            base_url=isolated_stack.base_url,
            headers={"Authorization": f"Bearer {b.key}"},
            timeout=30,
        )

        # Then nothing of A's is found, changed or checked: 404 problem+json (or 422 for
        # a rule of the body that the schema does not express, before any lookup)
        status = response.status_code
        answers.append((status, response.text))
        assert not 200 <= status < 400 and status not in REVEALING, (status, response.text)
        assert status in (404, 422), (status, response.text)
        media_types = response.headers.get("content-type", [])
        assert media_types[0].startswith("application/problem+json"), media_types

    b_cannot_reach_a()

    # Then the route did answer 404 (it did look), and A reads what it read before B began
    assert any(status == 404 for status, _ in answers), answers[:3]
    assert _reads_of_a(a, a_ids) == a_as_seeded


def test_the_walk_covers_every_tenant_route_with_path_ids() -> None:
    routes = _tenant_routes_with_path_ids()

    assert ("DELETE", "/v1/customers/{customer_id}") in routes
    assert ("POST", "/v1/tickets/{ticket_id}/transitions") in routes
    assert ("DELETE", "/v1/api-keys/{key_id}") in routes
    assert not any(path.startswith("/v1/admin/") for _, path in routes)
