"""Interactions through the API (Chalice test client, moto)."""

from __future__ import annotations

from typing import Any

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
