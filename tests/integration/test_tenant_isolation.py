"""Tenant A's keys can never read, list, look up, change or delete tenant B's customers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.api import Api

B_CUSTOMER = {
    "name": "Bea",
    "email": "bea@example.com",
    "phone": "+447911123456",
    "external_id": "b-1",
    "tags": ["b-only"],
}


@pytest.fixture
def b_customer(tenant_b: Api) -> dict[str, object]:
    return tenant_b.create_customer(**B_CUSTOMER)


@pytest.mark.parametrize("role", ["admin", "staff", "readonly", "customer"])
def test_no_key_of_tenant_a_reaches_tenant_b(
    tenant_a: Api,
    tenant_b: Api,
    b_customer: dict[str, object],
    key_with_role: Callable[[Api, str], Api],
    role: str,
) -> None:
    intruder = tenant_a if role == "admin" else key_with_role(tenant_a, role)
    path = f"/v1/customers/{b_customer['id']}"

    reads = [
        intruder.get(path),
        intruder.get(path, headers={"If-None-Match": '"1"'}),
    ]
    writes = [
        intruder.patch(path, {"name": "Hacked"}),
        intruder.patch(path, {"name": "Hacked"}, headers={"If-Match": '"1"'}),
        intruder.delete(path),
        intruder.delete(path, headers={"If-Match": '"1"'}),
    ]

    for answer in reads:
        answer.problem(404)
    for answer in writes:
        assert answer.status in (403, 404), answer.text
        assert answer.content_type.startswith("application/problem+json")
    if role != "customer":
        for query in (
            "",
            "email=bea@example.com",
            "phone=%2B447911123456",
            "external_id=b-1",
            "tag=b-only",
        ):
            assert intruder.get(f"/v1/customers?{query}").json["items"] == []
    else:
        intruder.get("/v1/customers?external_id=b-1").problem(403)
    assert tenant_b.get(path).json == b_customer


def test_a_cursor_from_one_tenant_is_refused_for_another(tenant_a: Api, tenant_b: Api) -> None:
    for i in range(3):
        tenant_b.create_customer(name=f"B{i}")
    cursor = tenant_b.get("/v1/customers?limit=1").json["next_cursor"]

    answer = tenant_a.get(f"/v1/customers?limit=1&cursor={cursor}")

    assert "cursor" in answer.problem(400)["detail"]


def test_a_customer_id_from_b_in_a_tenant_a_update_creates_nothing(
    tenant_a: Api, tenant_b: Api, b_customer: dict[str, object]
) -> None:
    tenant_a.patch(f"/v1/customers/{b_customer['id']}", {"email": "new@example.com"})

    assert tenant_a.get("/v1/customers").json["items"] == []
    assert tenant_a.post("/v1/customers", {"email": "new@example.com"}).status == 201
