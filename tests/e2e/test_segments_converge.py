"""Acceptance: after random writes over HTTP, once the local stream runner (started by
`make run`'s launcher) has drained the data stream, every customer's metrics and segment
memberships equal a from-scratch recomputation, member listings and counts agree with
them, and the figures the test can know independently (purchases, spend) match."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.dal import segments as repository
from chalicelib.domain.paging import PageRequest
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services import segments
from chalicelib.settings import reset_settings
from devtools.stage import stage_environment
from devtools.stream_runner import read_failures, wait_until_drained
from tests.e2e.conftest import LocalStack, wait_for_backfill
from tests.support.api import Api

CUSTOMERS = 200
BIG_SPENDER_RULE = {
    "all": [
        {"field": "metrics.total_spend", "op": "gte", "value": 300},
        {"not": {"field": "segments", "op": "contains", "value": "lifecycle:churned"}},
    ]
}
TAGGED_RULE = {"any": [{"field": "tags", "op": "contains", "value": "gold"}]}


@pytest.fixture(scope="module")
def services_on_stack(stack: LocalStack) -> Iterator[None]:
    """The service code pointed at the stack's DynamoDB Local, for the recomputation."""
    saved = dict(os.environ)
    os.environ.update(stage_environment("local"))
    os.environ.update(
        {
            "DYNAMODB_ENDPOINT": f"http://127.0.0.1:{stack.dynamodb_port}",
            "CURSOR_SECRET": "segments-test-cursor-secret-" + "z" * 32,
        }
    )
    reset_settings()
    yield
    os.environ.clear()
    os.environ.update(saved)
    reset_settings()


@dataclass
class Written:
    """What the test wrote for one customer, to check metrics independently."""

    purchases: int = 0
    spend: Decimal = Decimal(0)
    orders: list[tuple[str, Decimal]] = field(default_factory=list)


def _ago(days: int, rng: random.Random) -> str:
    moment = datetime.now(UTC) - timedelta(days=days, minutes=rng.randint(1, 600))
    return moment.isoformat()


def _random_items(
    rng: random.Random, customer: str, written: Written, serial: int
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for n in range(rng.randint(0, 4)):
        amount = Decimal(rng.randint(5, 400))
        order = f"o-{customer[-8:]}-{serial}-{n}"
        items.append(
            {
                "customer_id": customer,
                "type": "purchase",
                "amount": str(amount),
                "currency": "EUR",
                "order_id": order,
                "occurred_at": _ago(rng.choice([1, 10, 45, 100, 200, 300, 400]), rng),
            }
        )
        written.purchases += 1
        written.spend += amount
        written.orders.append((order, amount))
    kind = rng.choice(["visit", "complaint", "feedback", "none"])
    if kind == "feedback":
        items.append({"customer_id": customer, "type": "feedback", "rating": rng.randint(1, 5)})
    elif kind != "none":
        items.append(
            {"customer_id": customer, "type": kind, "occurred_at": _ago(rng.randint(0, 300), rng)}
        )
    return items


def _post_batch(tenant: Api, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 100):
        answer = tenant.post("/v1/interactions:batch", {"items": items[start : start + 100]})
        assert answer.status == 200, answer.text
        assert answer.json["failed"] == 0, answer.text


def _all_members(tenant: TenantId, segment_id: str) -> set[str]:
    members: set[str] = set()
    cursor = None
    while True:
        page = repository.list_members(tenant, segment_id, PageRequest(37, cursor))
        members |= set(page.items)
        if page.next_cursor is None:
            return members
        cursor = page.next_cursor


def _write_at_random(tenant: Api, rng: random.Random) -> dict[str, Written]:
    """Customers, purchases, other interactions, refunds, tag changes and deletions."""
    written: dict[str, Written] = {}
    for n in range(CUSTOMERS):
        fields: dict[str, Any] = {"name": f"Customer {n}"}
        if rng.random() < 0.3:
            fields["birthday"] = date(1990, rng.randint(1, 12), rng.randint(1, 28)).isoformat()
        if rng.random() < 0.2:
            fields["tags"] = ["gold"]
        customer = tenant.create_customer(**fields)["id"]
        written[customer] = Written()
    ids = list(written)
    items = [i for serial, c in enumerate(ids) for i in _random_items(rng, c, written[c], serial)]
    _post_batch(tenant, items)
    for customer in rng.sample(ids, 20):
        if written[customer].orders:
            order, amount = written[customer].orders[0]
            refund = {"type": "refund", "order_id": order, "amount": str(amount)}
            answer = tenant.post(f"/v1/customers/{customer}/interactions", refund)
            assert answer.status == 201, answer.text
            written[customer].spend -= amount
    for customer in rng.sample(ids, 15):
        changed = tenant.patch(f"/v1/customers/{customer}", {"tags": ["gold"]})
        assert changed.status == 200, changed.text
    for customer in rng.sample(ids, 10):
        assert tenant.delete(f"/v1/customers/{customer}").status == 204
        del written[customer]
    return written


def test_after_random_writes_the_drained_streams_equal_a_recomputation(
    stack: LocalStack, platform: Api, services_on_stack: None
) -> None:
    # Given a tenant with a custom segment defined before any customer exists
    rng = random.Random(6)
    tenant = platform.create_tenant("Segments", plan="enterprise")
    before = tenant.post("/v1/segments", {"name": "Big spenders", "rule": BIG_SPENDER_RULE})
    assert before.status == 201, before.text

    # When a few hundred customers are created and written to at random
    written = _write_at_random(tenant, rng)
    # and a second custom segment is defined afterwards (back-filled by the job)
    after = tenant.post("/v1/segments", {"name": "Gold", "rule": TAGGED_RULE})
    assert after.status == 201, after.text
    wait_for_backfill(tenant, after.json["id"])
    wait_until_drained(stack.local_dir, since=time.time())

    # Then every customer's stored state is the from-scratch recomputation
    owner = tenant_id(str(tenant.tenant_id))
    rules = segments.tenant_rules(owner)
    today = datetime.now(UTC).date()
    members: dict[str, set[str]] = {}
    for customer, expected in written.items():
        stored = repository.get_state(owner, customer)
        facts = repository.load_facts(owner, customer)
        assert stored is not None and facts is not None, customer
        scratch = segments.evaluate(facts, rules, today)
        assert stored.metrics == scratch.metrics, customer
        assert (stored.segments, stored.rfm, stored.next_change) == (
            scratch.segments,
            scratch.rfm,
            scratch.next_change,
        ), customer
        assert stored.metrics.purchase_count == expected.purchases
        assert stored.metrics.total_spend == expected.spend
        for segment_id in stored.segments:
            members.setdefault(segment_id, set()).add(customer)
    # and the deleted customers are in no segment, the listings and counts agree
    counts = repository.member_counts(owner)
    for segment_id in {*members, *counts}:
        assert _all_members(owner, segment_id) == members.get(segment_id, set()), segment_id
        assert counts.get(segment_id, 0) == len(members.get(segment_id, set())), segment_id
    listed = {s["id"]: s["members"] for s in tenant.get("/v1/segments").json["items"]}
    assert listed[after.json["id"]] == len(members.get(after.json["id"], set()))
    assert not [f for f in read_failures(stack.local_dir) if owner in str(f["keys"])]


def test_metrics_and_segments_show_on_the_customer_within_seconds(
    stack: LocalStack, tenant_a: Api
) -> None:
    # Given a customer
    customer = tenant_a.create_customer(name="Quick")["id"]
    # When it buys
    bought = tenant_a.post(
        f"/v1/customers/{customer}/interactions",
        {"type": "purchase", "amount": "42.50", "currency": "EUR", "order_id": "q-1"},
    )
    assert bought.status == 201, bought.text
    wait_until_drained(stack.local_dir)
    # Then its metrics and segments say so
    metrics = tenant_a.get(f"/v1/customers/{customer}").json["metrics"]
    assert metrics["purchase_count"] == 1 and Decimal(metrics["total_spend"]) == Decimal("42.50")
    assert metrics["points_balance"] == 42
    mine = tenant_a.get(f"/v1/customers/{customer}/segments").json
    assert {"lifecycle:new", "rfm:recent"} <= set(mine["segments"])
    members = tenant_a.get("/v1/segments/lifecycle:new/members").json
    assert customer in members["items"]


def test_a_poisoned_record_ends_up_in_the_failure_file(stack: LocalStack, tenant_a: Api) -> None:

    # Given an interaction item whose details are not JSON, next to a healthy write
    environment = stage_environment("local")
    sick = tenant_a.create_customer(name="Sick")["id"]
    well = tenant_a.create_customer(name="Well")["id"]
    stack.dynamodb_client().put_item(
        TableName=environment["DATA_TABLE"],
        Item={
            "pk": {"S": f"T#{tenant_a.tenant_id}#CUS#{sick}"},
            "sk": {"S": "INT#2026-01-01T00:00:00.000000Z#int_poison"},
            "entity": {"S": "interaction"},
            "interaction_id": {"S": "int_poison"},
            "type": {"S": "visit"},
            "occurred_at": {"S": "2026-01-01T00:00:00.000000Z"},
            "details": {"S": "{not json"},
        },
    )
    tenant_a.post(f"/v1/customers/{well}/interactions", {"type": "visit"})
    # When the runner has drained the stream
    wait_until_drained(stack.local_dir)
    # Then the poisoned record is recorded as failed after its retries, the rest went on
    failures = [f for f in read_failures(stack.local_dir) if "int_poison" in str(f["keys"])]
    assert len(failures) == 1 and failures[0]["attempts"] == 6
    assert failures[0]["consumer"] == "keep_customers_current"
    assert tenant_a.get(f"/v1/customers/{well}").json["metrics"]["last_activity_at"]
