"""Issue 16 over HTTP against DynamoDB Local: a resolved ticket on the customer's timeline,
and a segment exported as CSV once the stream runner has kept the segment current."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from tests.e2e.conftest import wait_for_backfill
from tests.support.api import Api


def _post(api: Api, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    answer = api.post(path, body)
    assert answer.status == status, answer.text
    return dict(answer.json)


def test_a_resolved_ticket_shows_on_the_customers_timeline(tenant_a: Api) -> None:
    # Given a customer with a purchase and a ticket resolved since
    customer = tenant_a.create_customer(name="Ann")["id"]
    purchase = {"type": "purchase", "amount": "12.00", "currency": "EUR", "order_id": "o-1"}
    _post(tenant_a, f"/v1/customers/{customer}/interactions", purchase)
    ticket = _post(
        tenant_a,
        "/v1/tickets",
        {
            "customer_id": customer,
            "category": "return",
            "subject": "Wrong size",
            "description": "Need a 42",
            "channel": "store",
        },
    )["id"]
    _post(tenant_a, f"/v1/tickets/{ticket}/transitions", {"to": "resolved"}, 200)

    # When staff read the timeline's resolutions and purchases
    answer = tenant_a.get(f"/v1/customers/{customer}/interactions?type=ticket_resolved,purchase")

    # Then the resolution comes first, naming the ticket, then the purchase
    assert answer.status == 200, answer.text
    items = answer.json["items"]
    assert [item["type"] for item in items] == ["ticket_resolved", "purchase"]
    assert items[0]["ticket"]["ticket_id"] == ticket
    assert items[0]["ticket"]["subject"] == "Wrong size"
    assert items[1]["order_id"] == "o-1"


def _export_rows(api: Api, segment_id: str) -> list[dict[str, str]]:
    answer = api.get(f"/v1/segments/{segment_id}/export")
    assert answer.status == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text, newline="")))


def test_a_segment_exports_as_csv(tenant_a: Api) -> None:
    # Given a tag segment, back-filled, and two tagged customers and one other after it
    segment = _post(
        tenant_a,
        "/v1/segments",
        {"name": "Gold", "rule": {"field": "tags", "op": "contains", "value": "gold"}},
    )["id"]
    wait_for_backfill(tenant_a, segment)
    gold = {
        tenant_a.create_customer(name=f"G{n}", email=f"g{n}@example.com", tags=["gold"])["id"]
        for n in range(2)
    }
    tenant_a.create_customer(name="Plain")

    # When an admin exports the segment once the stream has placed them
    deadline = time.monotonic() + 60
    rows = _export_rows(tenant_a, segment)
    while {row["id"] for row in rows} != gold and time.monotonic() < deadline:
        time.sleep(0.5)
        rows = _export_rows(tenant_a, segment)

    # Then the CSV holds exactly the gold customers with their email
    assert {row["id"] for row in rows} == gold
    assert {row["email"] for row in rows} == {"g0@example.com", "g1@example.com"}
