"""Issue 14: a batch reads its customers and their accounts ahead (BatchGetItem) and writes
the interactions that move no points together (BatchWriteItem), instead of a GetItem and a
PutItem or transaction per item; outcomes and stored state stay those of single writes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.domain.ids import new_customer_id
from tests.support.api import Api


@pytest.fixture
def data_table_calls(tenant_a: Api, environment: dict[str, str]) -> Iterator[Counter[str]]:
    """DynamoDB operations on the data table from now on, as the shared client sends them."""
    from chalicelib.dal.connection import dynamodb_client

    table = environment["DATA_TABLE"]
    calls: Counter[str] = Counter()

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        tables = {params.get("TableName")} | set(params.get("RequestItems", {}))
        tables |= {
            action.get("TableName")
            for entry in params.get("TransactItems", [])
            for action in entry.values()
        }
        if table in tables:
            calls[model.name] += 1

    client = dynamodb_client()
    client.meta.events.register("before-parameter-build.dynamodb", count)
    yield calls
    client.meta.events.unregister("before-parameter-build.dynamodb", count)


def _purchase(order_id: str) -> dict[str, Any]:
    return {"type": "purchase", "amount": "10.00", "currency": "EUR", "order_id": order_id}


def test_a_batch_reads_ahead_and_writes_plain_items_together(
    tenant_a: Api, data_table_calls: Counter[str]
) -> None:
    # Given three customers, and a batch with an app event and a purchase for each, and an
    # app event for a customer id no one has
    customers = [tenant_a.create_customer(name=f"C{n}")["id"] for n in range(3)]
    unknown = new_customer_id()
    items: list[dict[str, Any]] = []
    for n, customer in enumerate(customers):
        items += [
            {"customer_id": customer, "type": "app_event", "name": "opened"},
            {"customer_id": customer, **_purchase(f"o-{n}")},
        ]
    items.append({"customer_id": unknown, "type": "app_event", "name": "opened"})
    data_table_calls.clear()

    # When it is recorded
    answer = tenant_a.post("/v1/interactions:batch", {"items": items})

    # Then each item has its outcome, as single writes would give
    assert answer.status == 200, answer.text
    body = answer.json
    assert [i["outcome"] for i in body["items"]] == ["created"] * 6 + ["failed"]
    assert body["items"][6]["problem"]["status"] == 404
    calls = Counter(data_table_calls)
    # and every customer holds both interactions and the purchase's points
    for customer in customers:
        timeline = tenant_a.get(f"/v1/customers/{customer}/interactions").json["items"]
        assert sorted(i["type"] for i in timeline) == ["app_event", "purchase"]
        assert tenant_a.get(f"/v1/customers/{customer}/points").json["balance"] == 10
    # and the customers and accounts were read in one BatchGetItem each, the app events
    # written in one BatchWriteItem, the three purchases committed in one transaction; only
    # the unknown customer was looked up on its own
    assert calls["BatchGetItem"] == 2
    assert calls["BatchWriteItem"] == 1
    assert calls["TransactWriteItems"] == 1
    assert calls["GetItem"] == 1
    assert calls["PutItem"] == 0
