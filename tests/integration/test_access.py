"""Roles, key and tenant states, enforced from the one access table."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from chalice.test import Client

from chalicelib.api.access import ACCESS
from chalicelib.dal import control
from chalicelib.domain.clock import utc_now
from chalicelib.domain.tenancy import TenantStatus, tenant_id
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
        ("app", 403, 200, 403, 200, 403, 403),
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


def test_a_suspended_tenant_is_403_and_a_deleted_one_401(tenant_a: Api) -> None:
    assert tenant_a.tenant_id is not None
    tenant = control.get_tenant(tenant_id(tenant_a.tenant_id))
    assert tenant is not None

    suspended = control.set_tenant_status(tenant, TenantStatus.SUSPENDED, utc_now())
    assert "suspended" in tenant_a.get("/v1/customers").problem(403)["detail"]

    control.set_tenant_status(suspended, TenantStatus.DELETED, utc_now())
    tenant_a.get("/v1/customers").problem(401)


def _revoke_every_key_of(owner: Api) -> None:
    from chalicelib.dal.models import ApiKeyItem

    owner_pk = f"TENANT#{owner.tenant_id}#KEYS"
    for item in ApiKeyItem.by_owner.query(owner_pk):
        item.update(actions=[ApiKeyItem.revoked_at.set(utc_now())])
