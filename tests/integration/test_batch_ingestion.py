"""Issue 14: a batch reads its customers and their accounts ahead (BatchGetItem), writes
the interactions that move no points together (BatchWriteItem) and commits the points of
distinct customers together (TransactWriteItems of up to 100 actions), instead of a GetItem
and a PutItem or transaction per item; outcomes and stored state stay those of single
writes, and an item a grouped transaction could not commit is recorded again alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.dal import loyalty as repository
from chalicelib.dal.connection import dynamodb_client
from chalicelib.domain.clock import utc_now
from chalicelib.domain.ids import new_customer_id
from chalicelib.domain.loyalty import PointsAccount
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services import loyalty
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


def _tenant(api: Api) -> TenantId:
    assert api.tenant_id is not None
    return tenant_id(api.tenant_id)


def _account(tenant: TenantId, customer: str) -> PointsAccount:
    account = repository.get_account(tenant, customer)
    assert account is not None
    return account


def _refund(order_id: str, amount: str) -> dict[str, Any]:
    return {"type": "refund", "amount": amount, "currency": "EUR", "order_id": order_id}


def _app_event() -> dict[str, Any]:
    return {"type": "app_event", "name": "opened"}


def _history(order_prefix: str) -> list[list[dict[str, Any]]]:
    """Each customer's items, in order: several purchases (one crosses the silver tier), a
    refund of an earlier order, app events between them; the last customer only opens the
    app."""
    return [
        [
            _purchase(f"{order_prefix}-a1"),
            _app_event(),
            {**_purchase(f"{order_prefix}-a2"), "amount": "1200.00"},
        ],
        [
            _purchase(f"{order_prefix}-b1"),
            _refund(f"{order_prefix}-b1", "4.00"),
            _purchase(f"{order_prefix}-b2"),
        ],
        [{**_purchase(f"{order_prefix}-c1"), "amount": "33.33"}],
        [_app_event(), _app_event()],
    ]


def _stored_state(tenant: TenantId, customer: str, order_ids: list[str]) -> dict[str, Any]:
    """What is stored for the customer, without ids, times and versions' provenance."""
    account = repository.get_account(tenant, customer)
    orders = [repository.get_order(tenant, order_id) for order_id in order_ids]
    today = utc_now().date()
    lot_days = [
        today + timedelta(days=days)
        for days in range(360, 370)
        if customer
        in set(repository.customers_with_lots_expiring(tenant, today + timedelta(days=days)))
    ]
    return {
        "account": None
        if account is None
        else {
            "balance": account.balance,
            "lifetime_earned": account.lifetime_earned,
            "reversed": account.reversed,
            "tier": account.tier,
            "lots": sorted(account.lots.values()),
            "spend": account.spend_by_month,
            "version": account.version,
        },
        "ledger": [
            (e.type.value, e.points, e.balance_after, e.reference, e.tier, e.sequence)
            for e in repository.iter_ledger(tenant, customer)
        ],
        "lot markers": [day - today for day in lot_days],
        "orders": [
            None
            if order is None
            else (order.amount, order.points, order.refunded_amount, order.points_reversed)
            for order in orders
        ],
    }


def _order_ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["order_id"] for item in items if item["type"] == "purchase"]


def test_a_grouped_batch_stores_what_single_writes_store(
    tenant_a: Api, tenant_b: Api, data_table_calls: Counter[str]
) -> None:
    # Given the same customers' histories in two tenants
    batched = [tenant_a.create_customer(name=f"A{n}")["id"] for n in range(4)]
    single = [tenant_b.create_customer(name=f"B{n}")["id"] for n in range(4)]
    histories = _history("order")

    # When tenant A records them in one batch, the customers' items interleaved
    items = [
        {"customer_id": customer, **item}
        for turn in range(3)
        for customer, history in zip(batched, histories, strict=True)
        for item in history[turn : turn + 1]
    ]
    data_table_calls.clear()
    answer = tenant_a.post("/v1/interactions:batch", {"items": items})
    batch_calls = Counter(data_table_calls)
    # and tenant B records them one request at a time
    for customer, history in zip(single, histories, strict=True):
        for item in history:
            recorded = tenant_b.post(f"/v1/customers/{customer}/interactions", item)
            assert recorded.status == 201, recorded.text

    # Then every batch item was created
    assert answer.status == 200, answer.text
    assert [i["outcome"] for i in answer.json["items"]] == ["created"] * len(items)
    # and each customer's account, ledger, lot markers and orders are stored alike
    for batch_customer, single_customer, history in zip(batched, single, histories, strict=True):
        order_ids = _order_ids(history)
        assert _stored_state(_tenant(tenant_a), batch_customer, order_ids) == _stored_state(
            _tenant(tenant_b), single_customer, order_ids
        )
    # and the first customer crossed into silver in the write that crossed the threshold
    assert _account(_tenant(tenant_a), batched[0]).tier == "silver"
    # and the batch committed the points in one transaction per turn (the customers' first,
    # second and third items), reading no account on its own: its one GetItem is the order
    # claim the refund reads
    assert batch_calls["TransactWriteItems"] == 3
    assert batch_calls["GetItem"] == 1


def test_a_duplicate_order_id_fails_only_its_own_item(
    tenant_a: Api, data_table_calls: Counter[str]
) -> None:
    # Given four customers, one of whom already recorded order "o-old"
    ann, bob, cyd, dan = (
        tenant_a.create_customer(name=n)["id"] for n in ("Ann", "Bob", "Cyd", "Dan")
    )
    first = tenant_a.post(f"/v1/customers/{cyd}/interactions", _purchase("o-old"))
    assert first.status == 201, first.text
    data_table_calls.clear()

    # When a batch has Ann and Bob name the same new order, Cyd repeat the old one and Dan
    # buy once
    answer = tenant_a.post(
        "/v1/interactions:batch",
        {
            "items": [
                {"customer_id": ann, **_purchase("o-new")},
                {"customer_id": bob, **_purchase("o-new")},
                {"customer_id": cyd, **_purchase("o-old")},
                {"customer_id": dan, **_purchase("o-dan")},
            ]
        },
    )

    # Then the first to name an order is created and the repeats answer the first purchase
    assert answer.status == 200, answer.text
    outcomes = answer.json["items"]
    assert [i["outcome"] for i in outcomes] == ["created", "duplicate", "duplicate", "created"]
    assert outcomes[1]["interaction"]["id"] == outcomes[0]["interaction"]["id"]
    assert outcomes[2]["interaction"]["id"] == first.json["id"]
    # and points were earned once per order
    tenant = _tenant(tenant_a)
    balances = [repository.get_account(tenant, c) for c in (ann, bob, cyd, dan)]
    assert [a.balance if a else 0 for a in balances] == [10, 0, 10, 10]
    assert [len(list(repository.iter_ledger(tenant, c))) for c in (ann, bob, cyd, dan)] == [
        1,
        0,
        1,
        1,
    ]
    claimed = repository.get_order(tenant, "o-new")
    assert claimed is not None and claimed.customer_id == ann
    # and only the duplicates were tried again alone: Ann, Cyd and Dan together (cancelled
    # by Cyd's claim), Ann and Dan together, Bob's group (cancelled by Ann's claim), then
    # Bob and Cyd alone
    assert data_table_calls["TransactWriteItems"] == 5


def test_an_account_changed_since_the_read_ahead_retries_only_its_customer(
    tenant_a: Api, data_table_calls: Counter[str]
) -> None:
    # Given three customers, and another request that adjusts Bob's points just before
    # the batch's first transaction (after the batch read the accounts)
    ann, bob, cyd = (tenant_a.create_customer(name=n)["id"] for n in ("Ann", "Bob", "Cyd"))
    tenant = _tenant(tenant_a)
    client = dynamodb_client()
    interfered: list[str] = []

    def adjust_bob_first(**_: Any) -> None:
        if not interfered:
            interfered.append(bob)
            loyalty.adjust_points(tenant, bob, 5, "goodwill", None, "key_other", None)

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", adjust_bob_first)
    data_table_calls.clear()

    # When a batch buys once for each of them
    try:
        answer = tenant_a.post(
            "/v1/interactions:batch",
            {
                "items": [
                    {"customer_id": c, **_purchase(f"o-{n}")} for n, c in enumerate((ann, bob, cyd))
                ]
            },
        )
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", adjust_bob_first)

    # Then every item was created
    assert answer.status == 200, answer.text
    assert [i["outcome"] for i in answer.json["items"]] == ["created"] * 3
    # and Bob's purchase was added to the adjusted account, not over it
    assert [e.type.value for e in repository.iter_ledger(tenant, bob)] == ["adjust", "earn"]
    assert _account(tenant, bob).balance == 15
    assert [_account(tenant, c).balance for c in (ann, cyd)] == [10, 10]
    # and only Bob was tried again alone: the adjustment, the cancelled group, Ann and Cyd
    # together, Bob alone
    assert data_table_calls["TransactWriteItems"] == 4


def test_a_turn_of_many_customers_is_split_at_one_hundred_actions(tenant_a: Api) -> None:
    # Given 25 customers, each about to make a first purchase (five actions each: the
    # interaction, the account, a ledger entry, a lot marker, the order claim)
    customers = [tenant_a.create_customer(name=f"C{n}")["id"] for n in range(25)]
    sizes: list[int] = []

    def record_size(params: dict[str, Any], **_: Any) -> None:
        sizes.append(len(params["TransactItems"]))

    client = dynamodb_client()
    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", record_size)

    # When one batch buys once for each
    try:
        answer = tenant_a.post(
            "/v1/interactions:batch",
            {"items": [{"customer_id": c, **_purchase(f"o-{n}")} for n, c in enumerate(customers)]},
        )
    finally:
        client.meta.events.unregister(
            "provide-client-params.dynamodb.TransactWriteItems", record_size
        )

    # Then every purchase was created and earned its points
    assert answer.status == 200, answer.text
    assert [i["outcome"] for i in answer.json["items"]] == ["created"] * 25
    tenant = _tenant(tenant_a)
    assert {_account(tenant, c).balance for c in customers} == {10}
    # and the 125 actions went in two transactions, none over DynamoDB's 100
    assert sizes == [100, 25]
