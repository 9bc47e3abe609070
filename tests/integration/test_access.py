"""Roles, key and tenant states, enforced from the one access table."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from chalice.test import Client

from chalicelib.api.access import ACCESS
from chalicelib.domain.clock import utc_now
from tests.support.api import Api


def test_every_route_has_an_access_rule_and_every_rule_a_route(client: Client) -> None:
    from app import app

    routes = {(method, path) for path, methods in app.routes.items() for method in methods}

    assert routes == set(ACCESS)


@pytest.mark.parametrize(
    ("role", "create", "read", "list_all", "look_up_external", "update", "delete"),
    [
        ("admin", 201, 200, 200, 200, 200, 204),
        ("staff", 201, 200, 200, 200, 200, 204),
        ("readonly", 403, 200, 200, 200, 403, 403),
        ("app", 201, 403, 403, 403, 403, 403),
    ],
)
def test_what_each_role_may_do_with_customers(
    tenant_a: Api,
    key_with_role: Callable[[Api, str], Api],
    role: str,
    create: int,
    read: int,
    list_all: int,
    look_up_external: int,
    update: int,
    delete: int,
) -> None:
    caller = key_with_role(tenant_a, role)
    existing = tenant_a.create_customer(name="Ann", external_id="x-1", email="ann@example.com")
    path = f"/v1/customers/{existing['id']}"

    assert caller.post("/v1/customers", {"name": "New"}).status == create
    assert caller.get(path).status == read
    assert caller.get("/v1/customers").status == list_all
    assert caller.get("/v1/customers?external_id=x-1").status == look_up_external
    assert caller.patch(path, {"name": "Changed"}).status == update
    assert caller.delete(path).status == delete
    if role == "app":
        assert caller.get("/v1/customers?email=ann@example.com").status == 403
        assert caller.get("/v1/customers?external_id=x-1&limit=5").status == 403


def test_a_revoked_key_is_401(tenant_a: Api, key_with_role: Callable[[Api, str], Api]) -> None:
    staff = key_with_role(tenant_a, "staff")
    assert staff.get("/v1/customers").status == 200
    _revoke_every_key_of(tenant_a)

    staff.get("/v1/customers").problem(401)


def test_a_suspended_tenant_is_403_and_a_deleted_one_401(platform: Api, tenant_a: Api) -> None:
    platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend")
    assert "suspended" in tenant_a.get("/v1/customers").problem(403)["detail"]

    platform.delete(f"/v1/admin/tenants/{tenant_a.tenant_id}")
    tenant_a.get("/v1/customers").problem(401)


def _revoke_every_key_of(owner: Api) -> None:
    from chalicelib.dal.models import ApiKeyItem

    owner_pk = f"TENANT#{owner.tenant_id}#KEYS"
    for item in ApiKeyItem.by_owner.query(owner_pk):
        item.update(actions=[ApiKeyItem.revoked_at.set(utc_now())])


@pytest.mark.parametrize(
    "role", ["admin", "staff", "app", "customer", "readonly", "platform_admin"]
)
def test_every_route_answers_each_role_as_the_access_table_says(
    client: Client,
    platform: Api,
    tenant_a: Api,
    key_with_role: Callable[[Api, str], Api],
    role: str,
) -> None:
    """Walks every (route, method) for one role: refused exactly where the table refuses."""
    customer = tenant_a.create_customer(name="Walk")
    if role == "platform_admin":
        caller = platform
    elif role == "customer":
        caller = tenant_a.create_key("app")[0].as_customer(customer["id"])
    else:
        caller = key_with_role(tenant_a, role)
    values = {
        "customer_id": customer["id"],
        "tenant_id": str(tenant_a.tenant_id),
        "key_id": "key_00000000000000000000000000",
        "segment_id": "lifecycle:active",
        "asset": "swagger-ui.css",
    }
    for (method, route), rule in sorted(ACCESS.items()):
        path = re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "id_that_does_not_exist"), route)
        answer = caller.request(
            method, path, json_body={} if method in {"POST", "PUT", "PATCH"} else None
        )
        allowed = rule.public or (
            role in {r.value for r in rule.roles}
            and role not in {r.value for r in rule.only_with_query}
        )
        if allowed:
            assert answer.status not in (401, 403) and answer.status < 500, (
                method,
                route,
                answer.text,
            )
        else:
            answer.problem(403)
