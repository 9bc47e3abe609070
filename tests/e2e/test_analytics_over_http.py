"""Analytics over HTTP against `make run`'s stack: random writes through the API, the local
stream runner drains the data stream, and the summary and cohorts match what was sent."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from devtools.stream_runner import wait_until_drained
from tests.e2e.conftest import LocalStack
from tests.support.api import Api


def test_the_summary_matches_random_writes_once_the_stream_drained(
    stack: LocalStack, platform: Api
) -> None:
    # Given a tenant with customers and random purchases and feedback within the year
    rng = random.Random(9)
    tenant = platform.create_tenant("Analytics", plan="enterprise")
    now = datetime.now(UTC)
    customers = [tenant.create_customer(name=f"C{n}")["id"] for n in range(25)]
    items: list[dict[str, Any]] = []
    revenue, nps = Decimal(0), Counter[str]()
    first_purchase: dict[str, datetime] = {}
    for n, customer in enumerate(customers):
        for k in range(rng.randint(0, 3)):
            amount = Decimal(rng.randint(5, 300))
            when = now - timedelta(days=rng.randint(1, 300), minutes=rng.randint(1, 600))
            items.append(
                {
                    "customer_id": customer,
                    "type": "purchase",
                    "amount": str(amount),
                    "currency": "EUR",
                    "order_id": f"e2e-{n}-{k}",
                    "occurred_at": when.isoformat(),
                    "channel": "online",
                }
            )
            revenue += amount
            first_purchase[customer] = min(when, first_purchase.get(customer, when))
        if rng.random() < 0.5:
            score = rng.randint(0, 10)
            items.append({"customer_id": customer, "type": "feedback", "nps": score})
            nps["promoters" if score >= 9 else "detractors" if score <= 6 else "passives"] += 1
    answer = tenant.post("/v1/interactions:batch", {"items": items})
    assert answer.status == 200 and answer.json["failed"] == 0, answer.text

    # When the stream has drained
    wait_until_drained(stack.local_dir, since=time.time())

    # Then the summary over the last year counts exactly what was sent
    first = (now - timedelta(days=365)).date()
    summary = tenant.get(f"/v1/analytics/summary?from={first}&to={now.date()}").json
    purchases = [i for i in items if i["type"] == "purchase"]
    assert summary["customers"]["total"] == 25
    assert summary["customers"]["new_in_period"] == 25
    assert summary["commerce"]["purchases"] == len(purchases)
    assert Decimal(summary["commerce"]["revenue"]) == revenue
    assert summary["commerce"]["buyers"] == len(first_purchase)
    assert summary["interactions"]["by_type"].get("purchase", 0) == len(purchases)
    assert summary["interactions"]["total"] == len(items)
    responses = sum(nps.values())
    assert summary["satisfaction"]["nps_responses"] == responses
    if responses:
        expected = Decimal(100 * (nps["promoters"] - nps["detractors"])) / responses
        assert Decimal(summary["satisfaction"]["nps"]) == expected.quantize(Decimal("0.1"))
    assert summary["loyalty"]["points_issued"] == sum(int(Decimal(i["amount"])) for i in purchases)
    # and the cohorts hold every buyer in the month of its first purchase
    cohorts = tenant.get(f"/v1/analytics/cohorts?from={first}&to={now.date()}").json["items"]
    by_month = Counter(f"{d.year:04d}-{d.month:02d}" for d in first_purchase.values())
    assert {c["month"]: c["customers"] for c in cohorts if c["customers"]} == dict(by_month)
