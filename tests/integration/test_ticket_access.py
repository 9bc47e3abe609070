"""Who may do what with tickets, and tenant A's keys never reach tenant B's tickets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import Api

TICKET = {
    "category": "complaint",
    "subject": "Late delivery",
    "description": "Still waiting",
    "channel": "online",
}


def _open(api: Api, customer_id: str) -> dict[str, Any]:
    answer = api.post("/v1/tickets", {"customer_id": customer_id, **TICKET})
    assert answer.status == 201, answer.text
    return dict(answer.json)


@pytest.mark.parametrize(
    ("role", "create", "read", "list_status", "list_customer", "patch", "move", "comment"),
    [
        ("admin", 201, 200, 200, 200, 200, 200, 201),
        ("staff", 201, 200, 200, 200, 200, 200, 201),
        ("readonly", 403, 200, 200, 200, 403, 403, 403),
        ("app", 403, 403, 403, 403, 403, 403, 403),
        ("customer", 201, 200, 403, 200, 403, 403, 201),
    ],
)
def test_what_each_role_may_do_with_tickets(
    tenant_a: Api,
    key_with_role: Callable[[Api, str], Api],
    role: str,
    create: int,
    read: int,
    list_status: int,
    list_customer: int,
    patch: int,
    move: int,
    comment: int,
) -> None:
    customer = tenant_a.create_customer(name="Ann")
    if role == "customer":
        caller = tenant_a.create_key("app")[0].as_customer(customer["id"])
    else:
        caller = tenant_a if role == "admin" else key_with_role(tenant_a, role)
    existing = _open(tenant_a, customer["id"])
    path = f"/v1/tickets/{existing['id']}"

    assert caller.post("/v1/tickets", {"customer_id": customer["id"], **TICKET}).status == create
    assert caller.get(path).status == read
    assert caller.get(f"{path}/comments").status == read
    assert caller.get("/v1/tickets?status=new").status == list_status
    assert caller.get(f"/v1/tickets?customer_id={customer['id']}").status == list_customer
    assert caller.get(f"/v1/tickets?customer_id={customer['id']}&status=new").status in (
        403,
        422,
    )
    assert caller.patch(path, {"assignee": "agent-1"}).status == patch
    assert caller.post(f"{path}/transitions", {"to": "open"}).status == move
    assert caller.post(f"{path}/comments", {"body": "hi"}).status == comment


@pytest.fixture
def b_ticket(tenant_b: Api) -> dict[str, Any]:
    customer = tenant_b.create_customer(name="Bea")
    ticket = _open(tenant_b, customer["id"])
    path = f"/v1/tickets/{ticket['id']}"
    assert tenant_b.post(f"{path}/comments", {"body": "public"}).status == 201
    assert tenant_b.post(f"{path}/comments", {"body": "internal", "internal": True}).status == 201
    assert tenant_b.patch(path, {"assignee": "bob"}).status == 200
    return dict(tenant_b.get(path).json)


@pytest.mark.parametrize("role", ["admin", "staff", "readonly", "customer"])
def test_no_key_of_tenant_a_reaches_tenant_b_tickets(
    tenant_a: Api,
    tenant_b: Api,
    b_ticket: dict[str, Any],
    key_with_role: Callable[[Api, str], Api],
    role: str,
) -> None:
    intruder = tenant_a if role == "admin" else key_with_role(tenant_a, role)
    path = f"/v1/tickets/{b_ticket['id']}"

    reads = [intruder.get(path), intruder.get(f"{path}/comments")]
    if role != "customer":
        reads.append(intruder.get(f"{path}/events"))
    writes = [
        intruder.patch(path, {"assignee": "mallory"}),
        intruder.patch(path, {"assignee": "mallory"}, headers={"If-Match": '"1"'}),
        intruder.post(f"{path}/transitions", {"to": "open"}),
        intruder.post(f"{path}/transitions", {"to": "cancelled"}),
        intruder.post(f"{path}/comments", {"body": "hello from A"}),
        intruder.post(f"{path}/rating", {"score": 1, "customer_id": b_ticket["customer_id"]}),
        intruder.post("/v1/tickets", {"customer_id": b_ticket["customer_id"], **TICKET}),
    ]

    for answer in reads:
        answer.problem(404)
    for answer in writes:
        assert answer.status in (403, 404, 422), answer.text
        assert answer.content_type.startswith("application/problem+json")
    listings = [f"customer_id={b_ticket['customer_id']}"]
    if role == "customer":
        intruder.get(f"/v1/tickets?{listings[0]}").problem(404)
        listings = []
    else:
        listings += ["status=new", "status=new&priority=normal", "assignee=bob", "at_risk=true"]
    for query in listings:
        assert intruder.get(f"/v1/tickets?{query}").json["items"] == [], query
    assert tenant_b.get(path).json == b_ticket
    assert len(tenant_b.get(f"{path}/comments").json["items"]) == 2


def test_a_ticket_cursor_from_one_tenant_is_refused_for_another(
    tenant_a: Api, tenant_b: Api
) -> None:
    customer = tenant_b.create_customer(name="Bea")
    for _ in range(2):
        _open(tenant_b, customer["id"])
    cursor = tenant_b.get("/v1/tickets?status=new&limit=1").json["next_cursor"]

    tenant_a.get(f"/v1/tickets?status=new&limit=1&cursor={cursor}").problem(400)
