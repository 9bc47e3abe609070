"""Interactions through the API (Chalice test client, moto)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import Api


def _customer(api: Api, **fields: Any) -> str:
    return str(api.create_customer(name="Ann", **fields)["id"])


def _purchase(order_id: str = "o-1", amount: str = "25.90", **extra: Any) -> dict[str, Any]:
    return {
        "type": "purchase",
        "amount": amount,
        "currency": "EUR",
        "order_id": order_id,
        "channel": "store",
        **extra,
    }


def test_a_purchase_is_recorded_with_its_points(tenant_a: Api) -> None:
    customer = _customer(tenant_a)

    answer = tenant_a.post(f"/v1/customers/{customer}/interactions", _purchase())

    assert answer.status == 201, answer.text
    body = answer.json
    assert body["id"].startswith("int_")
    assert body["type"] == "purchase" and body["amount"] == "25.90" and body["points"] == 25
    points = tenant_a.get(f"/v1/customers/{customer}/points").json
    assert points["balance"] == 25 and points["lifetime_earned"] == 25
    assert points["tier"] == "member"
    assert points["next_tier"] == {"name": "silver", "threshold": "1000", "missing": "975"}


def _timeline(api: Api, customer: str, query: str = "") -> list[dict[str, Any]]:
    answer = api.get(f"/v1/customers/{customer}/interactions{query}")
    assert answer.status == 200, answer.text
    return list(answer.json["items"])


def test_a_repeat_with_the_same_idempotency_key_answers_the_first_result(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    path = f"/v1/customers/{customer}/interactions"
    visit = {"type": "visit", "channel": "store", "location_id": "berlin-1"}

    first = tenant_a.post(path, visit, headers={"Idempotency-Key": "k-1"})
    again = tenant_a.post(path, visit, headers={"Idempotency-Key": "k-1"})

    assert first.status == again.status == 201
    assert again.json == first.json
    assert [i["id"] for i in _timeline(tenant_a, customer)] == [first.json["id"]]


def test_an_idempotency_key_reused_for_another_request_is_refused(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    path = f"/v1/customers/{customer}/interactions"
    tenant_a.post(path, {"type": "visit"}, headers={"Idempotency-Key": "k-2"})

    answer = tenant_a.post(path, {"type": "inquiry"}, headers={"Idempotency-Key": "k-2"})

    assert answer.problem(422)["type"].endswith("idempotency-key-reused")
    assert len(_timeline(tenant_a, customer)) == 1


def test_two_tenants_using_one_idempotency_key_never_collide(tenant_a: Api, tenant_b: Api) -> None:
    ann, bob = _customer(tenant_a), _customer(tenant_b)

    first = tenant_a.post(
        f"/v1/customers/{ann}/interactions", _purchase(), headers={"Idempotency-Key": "same"}
    )
    second = tenant_b.post(
        f"/v1/customers/{bob}/interactions", _purchase(), headers={"Idempotency-Key": "same"}
    )

    assert first.status == second.status == 201
    assert first.json["id"] != second.json["id"]
    assert second.json["customer_id"] == bob
    assert tenant_b.get(f"/v1/customers/{bob}/points").json["balance"] == 25


def test_a_purchase_repeating_an_order_id_records_nothing_new(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    path = f"/v1/customers/{customer}/interactions"
    first = tenant_a.post(path, _purchase("o-7", "100"))

    again = tenant_a.post(path, _purchase("o-7", "100"))

    assert again.status == 201 and again.json == first.json
    assert len(_timeline(tenant_a, customer)) == 1
    points = tenant_a.get(f"/v1/customers/{customer}/points").json
    assert points["balance"] == 100
    ledger = tenant_a.get(f"/v1/customers/{customer}/points/transactions").json["items"]
    assert [(e["type"], e["points"]) for e in ledger] == [("earn", 100)]


def test_occurred_at_may_not_be_more_than_five_minutes_ahead(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    path = f"/v1/customers/{customer}/interactions"

    future = tenant_a.post(path, {"type": "visit", "occurred_at": "2999-01-01T00:00:00Z"})
    naive = tenant_a.post(path, {"type": "visit", "occurred_at": "2026-01-01T00:00:00"})

    assert future.problem(422)["errors"][0]["field"] == "occurred_at"
    naive.problem(422)
    assert _timeline(tenant_a, customer) == []


@pytest.mark.parametrize(
    "body",
    [
        {"type": "feedback", "text": "no score"},
        {"type": "feedback", "rating": 6},
        {"type": "teleport"},
        {"type": "purchase", "amount": "-1", "currency": "EUR", "order_id": "x"},
        {"type": "purchase", "amount": "10", "currency": "euro", "order_id": "x"},
        {"type": "app_event"},
        {"type": "visit", "channel": "pigeon"},
        {"type": "visit", "surprise": 1},
    ],
)
def test_invalid_interactions_are_422(tenant_a: Api, body: dict[str, Any]) -> None:
    customer = _customer(tenant_a)

    tenant_a.post(f"/v1/customers/{customer}/interactions", body).problem(422)


def test_every_type_is_recorded_with_its_own_fields(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    path = f"/v1/customers/{customer}/interactions"
    bodies = [
        {"type": "feedback", "rating": 4, "nps": 9, "text": "nice"},
        {"type": "app_event", "name": "opened"},
        {"type": "email_event", "name": "clicked"},
        {"type": "sms_event", "name": "delivered"},
        {"type": "complaint", "text": "late", "channel": "phone"},
        _purchase(items=[{"sku": "A-1", "quantity": 2, "unit_price": "12.95"}]),
    ]

    answers = [tenant_a.post(path, body) for body in bodies]

    assert [a.status for a in answers] == [201] * len(bodies)
    assert answers[0].json["rating"] == 4 and answers[0].json["nps"] == 9
    assert answers[1].json["name"] == "opened"
    assert answers[5].json["items"] == [{"sku": "A-1", "quantity": 2, "unit_price": "12.95"}]
    assert len(_timeline(tenant_a, customer)) == len(bodies)


def test_the_timeline_is_newest_first_filtered_and_paged(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    path = f"/v1/customers/{customer}/interactions"
    for day in range(1, 6):
        tenant_a.post(path, {"type": "visit", "occurred_at": f"2026-03-0{day}T10:00:00Z"})
    tenant_a.post(path, {"type": "inquiry", "occurred_at": "2026-03-03T12:00:00Z"})

    everything = _timeline(tenant_a, customer)
    visits = _timeline(
        tenant_a, customer, "?type=visit&from=2026-03-02T00:00:00Z&to=2026-03-05T00:00:00Z"
    )
    first = tenant_a.get(f"{path}?type=visit&limit=2").json
    second = tenant_a.get(f"{path}?type=visit&limit=2&cursor={first['next_cursor']}").json

    times = [i["occurred_at"] for i in everything]
    assert times == sorted(times, reverse=True) and len(times) == 6
    assert [i["occurred_at"][:10] for i in visits] == ["2026-03-04", "2026-03-03", "2026-03-02"]
    assert [i["occurred_at"][:10] for i in first["items"] + second["items"]] == [
        "2026-03-05",
        "2026-03-04",
        "2026-03-03",
        "2026-03-02",
    ]
    misused = tenant_a.get(f"{path}?type=inquiry&cursor={first['next_cursor']}")
    misused.problem(400)


def test_interactions_of_an_unknown_or_foreign_customer_are_404(
    tenant_a: Api, tenant_b: Api
) -> None:
    foreign = _customer(tenant_b)

    tenant_a.post(f"/v1/customers/{foreign}/interactions", {"type": "visit"}).problem(404)
    tenant_a.post("/v1/customers/cus_nope/interactions", {"type": "visit"}).problem(404)
    tenant_a.get(f"/v1/customers/{foreign}/interactions").problem(404)
    assert _timeline(tenant_b, foreign) == []


def test_a_batch_reports_each_items_outcome(tenant_a: Api) -> None:
    ann = _customer(tenant_a, external_id="ext-ann")
    bob = _customer(tenant_a)
    items = [
        {"customer_id": ann, **_purchase("b-1", "10")},
        {"external_id": "ext-ann", "type": "visit"},
        {"customer_id": bob, "type": "feedback"},
        {"external_id": "nobody", "type": "visit"},
        {"type": "visit"},
        {"customer_id": ann, **_purchase("b-1", "10")},
    ]

    answer = tenant_a.post("/v1/interactions:batch", {"items": items})

    assert answer.status == 200, answer.text
    body = answer.json
    assert [i["outcome"] for i in body["items"]] == [
        "created",
        "created",
        "failed",
        "failed",
        "failed",
        "duplicate",
    ]
    assert (body["created"], body["duplicates"], body["failed"]) == (2, 1, 3)
    assert body["items"][2]["problem"]["status"] == 422
    assert body["items"][3]["problem"]["status"] == 404
    assert body["items"][5]["interaction"]["id"] == body["items"][0]["interaction"]["id"]
    assert len(_timeline(tenant_a, ann)) == 2 and _timeline(tenant_a, bob) == []


def test_a_batch_over_the_limit_is_refused_whole(tenant_a: Api) -> None:
    answer = tenant_a.post("/v1/interactions:batch", {"items": [{"type": "visit"}] * 101})

    answer.problem(422)


def test_what_each_role_may_do_with_interactions_and_points(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api]
) -> None:
    customer = _customer(tenant_a)
    base = f"/v1/customers/{customer}"
    tenant_a.post(f"{base}/interactions", _purchase("r-0", "50"))
    expected = {
        "staff": (201, 200, 200, 200, 201, 201),
        "app": (403, 403, 403, 403, 403, 403),
        "customer": (404, 404, 404, 404, 404, 403),
        "readonly": (403, 200, 200, 200, 403, 403),
    }
    for role, statuses in expected.items():
        caller = key_with_role(tenant_a, role)
        got = (
            caller.post(f"{base}/interactions", {"type": "visit"}).status,
            caller.get(f"{base}/interactions").status,
            caller.get(f"{base}/points").status,
            caller.get(f"{base}/points/transactions").status,
            caller.post(f"{base}/points/redeem", {"points": 1, "reason": "r"}).status,
            caller.post(f"{base}/points/adjust", {"points": 1, "reason": "r"}).status,
        )
        assert got == statuses, role
