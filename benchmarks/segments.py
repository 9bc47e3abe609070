"""Streams and segments benchmarks (issue 6), against DynamoDB Local and its streams.

    python -m benchmarks.run segments [--quick]    # or with everything: make bench

What it measures:
- the lag from a committed write to the changed segment being stored, under a mixed load of
  purchases, visits and profile changes, with the local stream runner polling in a thread
  (p50, p99);
- the DynamoDB writes the stream consumer makes per record and per affected customer
  (items written, counted at botocore inside the handler's invocations);
- the daily job's reads with 1,000 and 50,000 customers of whom the same number is due: the
  reads follow the customers due, not the tenant's size.

DynamoDB Local is not DynamoDB: the lag shows this machine and the runner's polling
interval; the write and read counts carry over.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.context import Context
from benchmarks.local_stack import local_stream_runner
from benchmarks.loyalty import _new_customer, _purchase, _summary
from benchmarks.report import Check, Section, Table

ACTOR = "key_benchmark"

_writes: Counter[str] = Counter()
_results: dict[str, tuple[Any, ...]] = {}
_counting = threading.local()


def _install_counter() -> None:
    """Counts items written and calls made by the thread that has counting switched on."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if getattr(_counting, "on", False) and self.meta.service_model.service_name == "dynamodb":
            _writes[f"call:{operation_name}"] += 1
            if operation_name == "TransactWriteItems":
                _writes["items"] += len(api_params["TransactItems"])
            elif operation_name in ("PutItem", "UpdateItem", "DeleteItem"):
                _writes["items"] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counted


def _runner(endpoint: str) -> Any:
    runner = local_stream_runner(endpoint)
    for consumer in runner._consumers:
        handler = consumer.handler

        def counted(event: dict[str, Any], context: Any, handler: Any = handler) -> Any:
            _counting.on = True
            try:
                return handler(event, context)
            finally:
                _counting.on = False

        consumer.handler = counted
    return runner


def _lag(tenant: Any, endpoint: str, quick: bool) -> None:
    from chalicelib.dal import segments as repository
    from chalicelib.domain.customers import CustomerChanges
    from chalicelib.services import customers, loyalty

    count = 20 if quick else 200
    ids = [_new_customer(tenant, f"Lag {n}") for n in range(count)]
    runner = _runner(endpoint)
    runner.drain(timeout=600)
    _writes.clear()
    runner.records_processed = 0
    runner.start(interval=0.05)
    rng = random.Random(6)
    samples = []
    try:
        for n, customer in enumerate(ids):
            for _ in range(rng.randint(0, 2)):
                background = rng.choice(ids)
                if rng.random() < 0.5:
                    loyalty.record_interaction(tenant, background, _visit(), ACTOR, None)
                else:
                    renamed = CustomerChanges(fields={"name": f"Renamed {n}"})
                    customers.update_customer(tenant, background, renamed, None)
            loyalty.record_interaction(tenant, customer, _purchase(50, f"lag-{n}"), ACTOR, None)
            written = time.perf_counter()
            while True:
                state = repository.get_state(tenant, customer, consistent=False)
                if state is not None and "lifecycle:new" in state.segments:
                    break
                time.sleep(0.005)
            samples.append((time.perf_counter() - written) * 1000)
        runner.drain(timeout=600)
    finally:
        runner.stop()
    lag = _summary(samples)
    records = max(runner.records_processed, 1)
    _results["lag"] = (lag.p50, lag.p99, lag.n)
    _results["writes"] = (_writes["items"], _writes["call:TransactWriteItems"], records)


def _visit() -> Any:
    from chalicelib.domain.interactions import InteractionDraft, InteractionType

    return InteractionDraft(type=InteractionType.VISIT)


def _seed_states(tenant: Any, total: int, due: int, day: date) -> None:
    """State items written directly (BatchWriteItem): `due` of them due on `day`."""
    from chalicelib.dal import keys
    from chalicelib.dal.connection import bound_settings
    from chalicelib.dal.models import SegmentStateItem

    bound_settings()
    later = day + timedelta(days=30)
    with SegmentStateItem.batch_write() as batch:
        for n in range(total):
            customer = f"cus_BENCH{n:021d}"
            when = day if n < due else later
            batch.save(
                SegmentStateItem(
                    pk=keys.customer_pk(tenant, customer),
                    sk=keys.SEGMENT_STATE_SK,
                    gsi5pk=keys.segments_due_pk(
                        tenant, when.isoformat(), keys.shard_of(customer, keys.SEGMENT_DUE_SHARDS)
                    ),
                    gsi5sk=customer,
                    tenant_id=tenant,
                    customer_id=customer,
                    metrics="{}",
                    segments="[]",
                    next_change=when.isoformat(),
                    computed_on=day.isoformat(),
                    updated_at=datetime.now(UTC),
                    version=1,
                )
            )


def _daily_job_reads(quick: bool) -> None:
    from chalicelib.dal import segments as repository
    from chalicelib.domain.tenancy import Plan
    from chalicelib.services import tenants

    day = date(2030, 1, 15)
    due = 50
    for size in (1_000, 5_000) if quick else (1_000, 50_000):
        tenant = tenants.create_tenant(f"Daily {size}", Plan.ENTERPRISE)[0].id
        _seed_states(tenant, size, due, day)
        _writes.clear()
        _counting.on = True
        try:
            found = list(repository.customers_due(tenant, day))
        finally:
            _counting.on = False
        _results[f"daily:{size}"] = (len(found), _writes["call:Query"])


def run(context: Context) -> Section:
    """Lag from write to segment change, consumer writes per record, daily job reads."""
    from chalicelib.domain.tenancy import tenant_id

    stack = context.stack()
    _install_counter()
    _lag(tenant_id(stack.tenant_id), stack.environment["DYNAMODB_ENDPOINT"], context.quick)
    _daily_job_reads(context.quick)
    p50, p99, n = _results["lag"]
    items, transactions, records = _results["writes"]
    sizes = sorted(int(k.split(":")[1]) for k in _results if k.startswith("daily:"))
    daily = [(size, *_results[f"daily:{size}"]) for size in sizes]
    return Section(
        title="Streams and segments",
        method=(
            "The services in process on the harness's DynamoDB Local; the local stream runner "
            "(polling every 50 ms) invokes the app's stream handler; purchases between random "
            "visits and renames; the lag is from a purchase's commit until the customer's state "
            "item shows `lifecycle:new`. Items written are counted at botocore inside the "
            "handler's invocations. The daily job's look-up runs against state items seeded "
            "directly, the same number due at each tenant size."
        ),
        tables=[
            Table(
                ["measure", "value"],
                [
                    ["write → segment change stored, p50", f"{p50:.0f} ms"],
                    ["write → segment change stored, p99", f"{p99:.0f} ms ({n} purchases)"],
                    ["consumer items written per stream record", f"{items / records:.2f}"],
                    ["consumer transactions / stream records", f"{transactions} / {records}"],
                ],
            ),
            Table(
                ["customers", "due today", "Query calls to find them"],
                [[f"{size:,}", str(found), str(queries)] for size, found, queries in daily],
            ),
        ],
        checks=[
            Check(
                "the consumer writes at most one transaction per affected customer per batch",
                f"{transactions} transactions for {records} records",
                "≤ records",
                transactions <= records,
            ),
            Check(
                "the daily job's reads do not grow with the tenant's size",
                ", ".join(f"{q} Query at {s:,}" for s, _, q in daily),
                "same at every size",
                len({q for _, _, q in daily}) == 1,
            ),
        ],
    )
