"""Analytics benchmarks (issue 9), against DynamoDB Local and its streams.

    python -m benchmarks.run analytics [--quick]    # or with everything: make bench

What it measures:
- the DynamoDB calls (and items read) behind `GET /v1/analytics/summary`, the timeseries and
  the cohorts at 1,000 and 50,000 customers. The counters are seeded directly (BatchWriteItem)
  as the stream would leave them: each synthetic customer's contribution is computed with
  the consumer's own pure function (`contribution_of`) and summed per shard, day and cohort
  month, because creating 50,000 customers through the API and the stream takes too long
  here. The reads do not depend on how the counters came to be;
- the stream consumer's writes per record under a mix of purchases, visits, feedback and
  redemptions through the services, with the local stream runner: analytics rides in the
  refresh transaction, so the segments target (at most one write per affected customer per
  batch, plus membership changes) must still hold.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from benchmarks.context import Context
from benchmarks.local_stack import local_stream_runner
from benchmarks.loyalty import _new_customer, _purchase
from benchmarks.report import Check, Section, Table

ACTOR = "key_benchmark"
TODAY = date(2030, 6, 30)

_calls: Counter[str] = Counter()
_counting = threading.local()
_installed: list[bool] = []


def _install_counter() -> None:
    """Counts DynamoDB calls and items (read and written) by the thread that switched
    counting on."""
    if _installed:
        return
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        answer = original(self, operation_name, api_params)
        if getattr(_counting, "on", False) and self.meta.service_model.service_name == "dynamodb":
            _calls[f"call:{operation_name}"] += 1
            if operation_name == "Query":
                _calls["items read"] += len(answer.get("Items", []))
            elif operation_name == "BatchGetItem":
                _calls["items read"] += sum(len(v) for v in answer.get("Responses", {}).values())
            elif operation_name == "TransactWriteItems":
                _calls["items written"] += len(api_params["TransactItems"])
                _calls["counter updates"] += sum(
                    1
                    for item in api_params["TransactItems"]
                    if "#ANALYTICS#" in str(item.get("Update", {}).get("Key", {}))
                )
            elif operation_name in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
                _calls["other writes"] += 1
        return answer

    BaseClient._make_api_call = counted
    _installed.append(True)


def _count(action: Any) -> Counter[str]:
    _calls.clear()
    _counting.on = True
    try:
        action()
    finally:
        _counting.on = False
    return Counter(_calls)


# Seeding the counters of a tenant of `size` synthetic customers.


def _synthetic_contributions(size: int, rng: random.Random) -> Any:
    from chalicelib.domain.analytics import contribution_of
    from chalicelib.domain.metrics import (
        CustomerFacts,
        InteractionFacts,
        PointsFacts,
        ProfileFacts,
        fold_metrics,
    )

    start = datetime.combine(TODAY - timedelta(days=730), datetime.min.time(), UTC)
    for n in range(size):
        customer = f"cus_BENCH{n:021d}"
        created = start + timedelta(days=rng.randrange(730), hours=rng.randrange(24))
        interactions = []
        for k in range(rng.randint(0, 4)):
            when = created + timedelta(days=rng.randrange(max(1, (TODAY - created.date()).days)))
            kind = rng.choice(("purchase", "purchase", "visit", "feedback"))
            interactions.append(
                InteractionFacts(
                    f"int_{n}_{k}",
                    kind,
                    when,
                    amount=Decimal(rng.randint(5, 200)) if kind == "purchase" else None,
                    rating=rng.randint(1, 5) if kind == "feedback" else None,
                    nps=rng.randint(0, 10) if kind == "feedback" else None,
                    channel=rng.choice(("online", "store", "app")),
                )
            )
        earned = sum(int(i.amount or 0) for i in interactions)
        points = PointsFacts({}, "member", earned, earned // 4, 0, created) if earned else None
        profile = ProfileFacts(customer, created, {}, frozenset(), {}, None)
        facts = CustomerFacts(profile, points, tuple(interactions))
        metrics, _ = fold_metrics(facts, TODAY)
        from chalicelib.domain.analytics import Contribution

        yield customer, contribution_of(facts, metrics, ["lifecycle:active"], Contribution())


def _seed_counters(tenant: Any, size: int) -> int:
    """Sum the synthetic customers' contributions per shard and item, and write the items
    (BatchWriteItem). Returns the number of counter items."""
    from chalicelib.dal import keys
    from chalicelib.dal.connection import bound_settings, transaction_connection

    rng = random.Random(size)
    items: dict[tuple[int, str], Counter[str]] = {}
    for customer, contribution in _synthetic_contributions(size, rng):
        shard = keys.shard_of(customer, keys.ANALYTICS_SHARDS)
        parts = [(keys.ANALYTICS_GAUGE_SK, contribution.gauges)]
        parts += [(keys.analytics_day_sk(d), f) for d, f in contribution.days.items()]
        parts += [(keys.analytics_cohort_sk(m), f) for m, f in contribution.cohorts.items()]
        for sk, figures in parts:
            items.setdefault((shard, sk), Counter()).update(figures)
    settings = bound_settings()
    client = transaction_connection().client
    requests = []
    for (shard, sk), figures in items.items():
        pk = keys.analytics_pk(tenant, shard)
        item = {"pk": {"S": pk}, "sk": {"S": sk}, "entity": {"S": "analytics_counter"}}
        item |= {name: {"N": str(value)} for name, value in figures.items()}
        requests.append({"PutRequest": {"Item": item}})
    for first in range(0, len(requests), 25):
        pending = {settings.data_table: requests[first : first + 25]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return len(items)


def _reads(sizes: tuple[int, ...]) -> list[list[str]]:
    from chalicelib.domain.analytics import Granularity
    from chalicelib.domain.tenancy import Plan
    from chalicelib.services import analytics, tenants

    rows = []
    year = TODAY - timedelta(days=365)
    for size in sizes:
        tenant = tenants.create_tenant(f"Analytics {size}", Plan.ENTERPRISE)[0].id
        seeded = _seed_counters(tenant, size)
        reads = {
            "summary, 30 days": lambda t=tenant: analytics.summary(
                t, TODAY - timedelta(days=29), TODAY
            ),
            "summary, 366 days": lambda t=tenant: analytics.summary(t, year, TODAY),
            "timeseries, 366 days by week": lambda t=tenant: analytics.timeseries(
                t, "revenue", year, TODAY, Granularity.WEEK
            ),
            "cohorts, 24 months": lambda t=tenant: analytics.cohorts(
                t, TODAY - timedelta(days=720), TODAY
            ),
        }
        for label, action in reads.items():
            counted = _count(action)
            calls = {k.split(":")[1]: v for k, v in counted.items() if k.startswith("call:")}
            rows.append(
                [
                    f"{size:,}",
                    f"{seeded:,}",
                    label,
                    " + ".join(f"{n} {name}" for name, n in sorted(calls.items())),
                    str(sum(calls.values())),
                    str(counted["items read"]),
                ]
            )
    return rows


# The stream consumer's writes.


def _stream_writes(endpoint: str, tenant: Any, customers: int) -> Counter[str]:
    from chalicelib.domain.interactions import InteractionDraft, InteractionType
    from chalicelib.services import loyalty

    runner = local_stream_runner(endpoint)
    ids = [_new_customer(tenant, f"Stream {n}") for n in range(customers)]
    runner.drain(timeout=600)
    rng = random.Random(9)
    for n in range(customers * 3):
        customer = rng.choice(ids)
        kind = rng.random()
        if kind < 0.5:
            draft = _purchase(rng.randint(5, 200), f"an-{n}")
        elif kind < 0.8:
            draft = InteractionDraft(type=InteractionType.VISIT)
        else:
            draft = InteractionDraft(
                type=InteractionType.FEEDBACK, details={"rating": 4, "nps": rng.randint(0, 10)}
            )
        loyalty.record_interaction(tenant, customer, draft, ACTOR, None)
    records = [0]
    for consumer in runner._consumers:
        if consumer.name != "keep_customers_current":
            continue  # the audit trail's readers write entries and digests of their own
        handler = consumer.handler

        def counted(event: dict[str, Any], context: Any, handler: Any = handler) -> Any:
            records[0] += len(event.get("Records", []))
            _counting.on = True
            try:
                return handler(event, context)
            finally:
                _counting.on = False

        consumer.handler = counted
    _calls.clear()
    runner.drain(timeout=600)
    result = Counter(_calls)
    result["records"] = records[0]
    return result


def run(context: Context) -> Section:
    """Summary reads at two tenant sizes; consumer writes per record with analytics."""
    from chalicelib.domain.tenancy import tenant_id

    stack = context.stack()
    _install_counter()
    sizes = (1_000, 5_000) if context.quick else (1_000, 50_000)
    read_rows = _reads(sizes)
    writes = _stream_writes(
        stack.environment["DYNAMODB_ENDPOINT"],
        tenant_id(stack.tenant_id),
        context.repeat(100, 20),
    )
    records = max(writes["records"], 1)
    transactions = writes["call:TransactWriteItems"]
    summary_calls = {row[0]: int(row[4]) for row in read_rows if row[2] == "summary, 366 days"}
    by_label: dict[str, set[str]] = {}
    for row in read_rows:
        by_label.setdefault(row[2], set()).add(row[3])
    return Section(
        title="Analytics",
        method=(
            "The services in process on the harness's DynamoDB Local. Reads: a tenant per size "
            "whose counters are seeded directly (BatchWriteItem) with the sums of synthetic "
            "customers' contributions, computed by the stream consumer's own function over "
            "0-4 interactions each in the last two years; creating 50,000 customers through "
            "the API and the stream would take too long here. Calls and items are counted "
            "at botocore. Writes: customers and a mix of purchases, visits and feedback "
            "through the services, then the local stream runner drains the stream with the "
            "app's handlers; the DynamoDB calls and records of `keep_customers_current` are "
            "counted (not the audit trail's readers)."
        ),
        tables=[
            Table(
                ["customers", "counter items", "read", "calls", "calls total", "items read"],
                read_rows,
            ),
            Table(
                ["measure", "value"],
                [
                    ["stream records", str(writes["records"])],
                    ["consumer TransactWriteItems", str(transactions)],
                    ["items written in them", str(writes["items written"])],
                    ["of which analytics counter updates", str(writes["counter updates"])],
                    ["other write calls", str(writes["other writes"])],
                    [
                        "items written per stream record",
                        f"{writes['items written'] / records:.2f}",
                    ],
                ],
            ),
        ],
        notes=[
            "Items read grow with the period, not with the customers: at most 16 shards x the "
            "days in the period (5,856 for 366 days), reached once every shard has something "
            "on every day; the calls stay the same.",
        ],
        checks=[
            Check(
                "reading the summary costs the same calls at every tenant size",
                ", ".join(f"{n} calls at {s}" for s, n in summary_calls.items()),
                "same at every size, ≤ 17",
                len(set(summary_calls.values())) == 1 and max(summary_calls.values()) <= 17,
            ),
            Check(
                "every analytics read makes the same calls at every size",
                f"{sum(len(v) for v in by_label.values())} call patterns for {len(by_label)} reads",
                "one pattern per read",
                all(len(v) == 1 for v in by_label.values()),
            ),
            Check(
                "with analytics, the consumer still writes at most one transaction per "
                "affected customer per batch (segments target)",
                f"{transactions} transactions for {writes['records']} records, "
                f"{writes['other writes']} other writes",
                "≤ records, no other writes",
                transactions <= records and writes["other writes"] == 0,
            ),
        ],
    )
