"""Loyalty (issue 4): the service functions in process on the harness's DynamoDB Local.

`python -m benchmarks.run loyalty [--quick]`. What it measures:
- the DynamoDB calls one purchase with points and one redemption make (counted at
  botocore, so nothing is estimated), with and without an Idempotency-Key;
- latency of purchase, redemption, GET points and the first ledger page for a customer
  with 10 ledger entries and one with 5,000 (and a lot on each of the last 365 days, the
  most a customer can hold with the default validity);
- (batch ingestion has its own benchmark: benchmarks/batch_ingestion.py).

DynamoDB Local is not DynamoDB: absolute times show this machine, the ratios and the call
counts are what carry over.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.context import Context
from benchmarks.report import Check, Section, Table

ACTOR = "key_benchmark"


# Counting DynamoDB calls.

_calls: Counter[str] = Counter()


def _install_counter() -> None:
    from botocore.client import BaseClient

    if getattr(BaseClient._make_api_call, "counts_loyalty_calls", False):
        return

    original = BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            _calls[operation_name] += 1
        return original(self, operation_name, api_params)

    counted.counts_loyalty_calls = True  # type: ignore[attr-defined]
    BaseClient._make_api_call = counted


@contextmanager
def counting() -> Iterator[Counter[str]]:
    _calls.clear()
    seen: Counter[str] = Counter()
    yield seen
    seen.update(_calls)


def _describe(calls: Counter[str]) -> str:
    return ", ".join(f"{n} x {op}" if n > 1 else op for op, n in sorted(calls.items()))


# Timing.


@dataclass(frozen=True)
class Summary:
    p50: float
    p99: float
    n: int


def _summary(samples: list[float]) -> Summary:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Summary(statistics.median(ordered), p99, len(ordered))


def _time(action: Callable[[], object], repeat: int) -> Summary:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return _summary(samples)


def _purchase(amount: int, order_id: str, when: datetime | None = None) -> Any:
    from chalicelib.domain.interactions import InteractionDraft, InteractionType

    return InteractionDraft(
        type=InteractionType.PURCHASE,
        occurred_at=when,
        details={"amount": str(amount), "currency": "EUR", "order_id": order_id},
    )


def _new_customer(tenant: Any, name: str) -> str:
    from chalicelib.domain.customers import CustomerChanges
    from chalicelib.domain.tenancy import Plan
    from chalicelib.services import customers

    return customers.create_customer(
        tenant, Plan.ENTERPRISE, CustomerChanges(fields={"name": name})
    ).id


# The measurements.


def _calls_per_operation(tenant: Any, section: Section) -> None:
    from chalicelib.services import loyalty

    customer = _new_customer(tenant, "Calls")
    loyalty.record_interaction(tenant, customer, _purchase(10, "warm-up"), ACTOR, None)
    rows = []
    observed: dict[str, tuple[Counter[str], Counter[str]]] = {}
    for label, key in (("without Idempotency-Key", None), ("with Idempotency-Key", "k")):
        with counting() as purchase:
            loyalty.record_interaction(
                tenant, customer, _purchase(100, f"calls-{label}"), ACTOR, key and f"{key}-p"
            )
        with counting() as redeem:
            loyalty.redeem_points(tenant, customer, 5, "bench", None, ACTOR, key and f"{key}-r")
        observed[label] = (purchase, redeem)
        rows.append(
            (
                label,
                f"{sum(purchase.values())}: {_describe(purchase)}",
                f"{sum(redeem.values())}: {_describe(redeem)}",
            )
        )
    section.tables.append(
        Table(
            ("request", "purchase with points", "redemption"),
            rows,
            "DynamoDB calls, counted at botocore (the tenant configuration is cached, as on a "
            "warm function; the idempotency record is a PutItem before and an UpdateItem after).",
        )
    )
    purchase, redeem = observed["without Idempotency-Key"]
    keyed_purchase, _ = observed["with Idempotency-Key"]
    extra = keyed_purchase - purchase
    section.checks += [
        Check(
            "purchase with points: one transaction (plus the account read)",
            _describe(purchase),
            "1 TransactWriteItems, ≤ 1 GetItem",
            purchase["TransactWriteItems"] == 1 and sum(purchase.values()) <= 2,
        ),
        Check(
            "purchase with Idempotency-Key: plus the idempotency record",
            f"+ {_describe(extra)}",
            "+ PutItem + UpdateItem",
            extra == Counter({"PutItem": 1, "UpdateItem": 1}),
        ),
        Check(
            "redemption: round trips",
            f"{sum(redeem.values())}: {_describe(redeem)}",
            "≤ 2",
            sum(redeem.values()) <= 2,
        ),
    ]


def _seed_history(tenant: Any, customer: str, entries: int) -> None:
    """`entries` ledger entries through real adjustments, spread over the last 365 days so
    the account holds a lot for each of those days (the most the default validity allows)."""
    from chalicelib.services import loyalty

    start = datetime.now(UTC) - timedelta(days=364)
    days = min(365, entries)
    for index in range(entries):
        when = start + timedelta(days=index * days // entries)
        loyalty.adjust_points(tenant, customer, 10, "seed", None, ACTOR, None, now=when)


def _operations(tenant: Any, customer: str) -> dict[str, Callable[[], object]]:
    from chalicelib.domain.paging import PageRequest
    from chalicelib.services import loyalty

    orders = iter(range(1_000_000))

    def purchase() -> object:
        draft = _purchase(20, f"h-{customer}-{next(orders)}")
        return loyalty.record_interaction(tenant, customer, draft, ACTOR, None)

    def redeem() -> object:
        return loyalty.redeem_points(tenant, customer, 1, "bench", None, ACTOR, None)

    def points() -> object:
        return loyalty.points_summary(tenant, customer)

    def ledger_page() -> object:
        return loyalty.list_transactions(tenant, customer, PageRequest(25))

    return {
        "purchase": purchase,
        "redeem": redeem,
        "GET points": points,
        "ledger page": ledger_page,
    }


def _history_independence(tenant: Any, section: Section, context: Context) -> None:
    sizes = (10, context.repeat(5_000, 500))
    repeat = context.repeat(60, 10)
    customers = {}
    for size in sizes:
        customers[size] = _new_customer(tenant, f"History {size}")
        context.progress(f"seeding {size} ledger entries")
        _seed_history(tenant, customers[size], size)
    small, large = sizes
    ops_small, ops_large = (_operations(tenant, customers[n]) for n in sizes)
    rows = []
    for name in ops_small:
        calls = []
        for action in (ops_small[name], ops_large[name]):
            _time(action, 3)
            with counting() as seen:
                action()
            calls.append(sum(seen.values()))
        samples: dict[int, list[float]] = {small: [], large: []}
        for _ in range(repeat):
            for size, action in ((small, ops_small[name]), (large, ops_large[name])):
                started = time.perf_counter()
                action()
                samples[size].append((time.perf_counter() - started) * 1000)
        a, b = _summary(samples[small]), _summary(samples[large])
        ratio = b.p50 / a.p50
        rows.append(
            (
                name,
                f"{calls[0]} / {calls[1]}",
                f"{a.p50:.1f}",
                f"{b.p50:.1f}",
                f"{a.p99:.1f}",
                f"{b.p99:.1f}",
                f"{ratio:.2f}x",
            )
        )
        section.checks.append(
            Check(
                f"{name}: {large:,} vs {small} ledger entries",
                f"{calls[1]} vs {calls[0]} calls, p50 {ratio:.2f}x",
                "same calls, p50 ≤ 1.50x",
                calls[0] == calls[1] and ratio <= 1.5,
            )
        )
    section.tables.append(
        Table(
            (
                "operation",
                f"calls ({small} / {large:,})",
                f"p50 ms ({small})",
                f"p50 ms ({large:,})",
                f"p99 ms ({small})",
                f"p99 ms ({large:,})",
                "p50 ratio",
            ),
            rows,
            f"{repeat} repetitions each, the two customers interleaved; the large one holds a "
            "live lot for each of the last 365 days.",
        )
    )


def run(context: Context) -> Section:
    """Calls per purchase and redemption, cost against history (batch throughput:
    benchmarks/batch_ingestion.py)."""
    from chalicelib.domain.tenancy import tenant_id

    stack = context.stack()
    tenant = tenant_id(stack.tenant_id)
    _install_counter()
    section = Section(
        title="Loyalty",
        method=(
            "The loyalty service functions in process on the harness's DynamoDB Local (in "
            "memory), DynamoDB calls counted at botocore; the tenant is on the defaults."
        ),
    )
    _calls_per_operation(tenant, section)
    _history_independence(tenant, section, context)
    return section
