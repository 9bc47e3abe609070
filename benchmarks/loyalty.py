"""Loyalty benchmarks (issue 4), against DynamoDB Local, through the service functions.

    python -m benchmarks.loyalty            # full sizes; rewrites the loyalty section of
                                            # docs/benchmarks.md and prints it
    python -m benchmarks.loyalty --quick    # small sizes; prints only

What it measures:
- the DynamoDB calls one purchase with points and one redemption make (counted at
  botocore, so nothing is estimated), with and without an Idempotency-Key;
- latency of purchase, redemption, GET points and the first ledger page for a customer
  with 10 ledger entries and one with 5,000 (and a lot on each of the last 365 days, the
  most a customer can hold with the default validity);
- batch ingestion of 10,000 interactions (100 batches of 100) against raw BatchWriteItem of
  the same interaction items, in the same run.

DynamoDB Local is not DynamoDB: absolute times show this machine, the ratios and the call
counts are what carry over.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- loyalty:start -->"
END_MARK = "<!-- loyalty:end -->"
ACTOR = "key_benchmark"


# Counting DynamoDB calls.

_calls: Counter[str] = Counter()


def _install_counter() -> None:
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            _calls[operation_name] += 1
        return original(self, operation_name, api_params)

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


# The environment: DynamoDB Local, the tables, a tenant.


@contextmanager
def local_dynamodb() -> Iterator[str]:
    import boto3

    from devtools.dynamodb_local import DynamoDBLocal, free_port
    from devtools.stage import stage_environment
    from devtools.tables import ensure_tables, table_names

    database = DynamoDBLocal(free_port()).start()
    try:
        environment = stage_environment("local")
        environment.update(
            {
                "DYNAMODB_ENDPOINT": database.endpoint,
                "CURSOR_SECRET": "benchmark-cursor-secret-" + "b" * 32,
            }
        )
        os.environ.update(environment)
        client = boto3.client(
            "dynamodb",
            endpoint_url=database.endpoint,
            region_name=environment["AWS_DEFAULT_REGION"],
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        )
        ensure_tables(client, table_names(environment))
        from chalicelib.settings import reset_settings

        reset_settings()
        yield database.endpoint
    finally:
        database.stop()


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


@dataclass
class Findings:
    lines: list[str]

    def add(self, text: str = "") -> None:
        self.lines.append(text)


def _calls_per_operation(tenant: Any, findings: Findings) -> None:
    from chalicelib.services import loyalty

    customer = _new_customer(tenant, "Calls")
    loyalty.record_interaction(tenant, customer, _purchase(10, "warm-up"), ACTOR, None)
    rows = []
    for label, key in (("without Idempotency-Key", None), ("with Idempotency-Key", "k")):
        with counting() as purchase:
            loyalty.record_interaction(
                tenant, customer, _purchase(100, f"calls-{label}"), ACTOR, key and f"{key}-p"
            )
        with counting() as redeem:
            loyalty.redeem_points(tenant, customer, 5, "bench", None, ACTOR, key and f"{key}-r")
        rows.append((label, purchase, redeem))
    findings.add("| request | purchase with points | redemption |")
    findings.add("| --- | --- | --- |")
    for label, purchase, redeem in rows:
        findings.add(
            f"| {label} | {sum(purchase.values())}: {_describe(purchase)} "
            f"| {sum(redeem.values())}: {_describe(redeem)} |"
        )
    findings.add()


def _seed_history(tenant: Any, customer: str, entries: int, quick: bool) -> None:
    """`entries` ledger entries through real adjustments, spread over the last 365 days so
    the account holds a lot for each of those days (the most the default validity allows)."""
    from chalicelib.services import loyalty

    start = datetime.now(UTC) - timedelta(days=364)
    days = min(365, entries)
    for index in range(entries):
        when = start + timedelta(days=index * days // entries)
        loyalty.adjust_points(tenant, customer, 10, "seed", None, ACTOR, None, now=when)
        if quick and index % 500 == 0:
            print(f"    seeded {index}", file=sys.stderr, flush=True)


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


def _history_independence(tenant: Any, findings: Findings, quick: bool) -> None:

    sizes = (10, 500) if quick else (10, 5_000)
    repeat = 20 if quick else 100
    results: dict[int, dict[str, Summary]] = {}
    calls: dict[int, dict[str, int]] = {}
    for size in sizes:
        customer = _new_customer(tenant, f"History {size}")
        print(f"  seeding {size} ledger entries", file=sys.stderr, flush=True)
        _seed_history(tenant, customer, size, quick)
        operations = _operations(tenant, customer)
        results[size], calls[size] = {}, {}
        for name, action in operations.items():
            _time(action, 5)
            with counting() as seen:
                action()
            calls[size][name] = sum(seen.values())
            results[size][name] = _time(action, repeat)
    small, large = sizes
    findings.add(
        f"| operation | calls ({small} / {large:,} entries) | p50 ms ({small}) "
        f"| p50 ms ({large:,}) | p99 ms ({small}) | p99 ms ({large:,}) | p50 ratio |"
    )
    findings.add("| --- | --- | --- | --- | --- | --- | --- |")
    for name in results[small]:
        a, b = results[small][name], results[large][name]
        findings.add(
            f"| {name} | {calls[small][name]} / {calls[large][name]} | {a.p50:.1f} | {b.p50:.1f} "
            f"| {a.p99:.1f} | {b.p99:.1f} | {b.p50 / a.p50:.2f}x |"
        )
    findings.add()
    findings.add(f"{repeat} repetitions each; the large customer holds 365 live lots.")
    findings.add()


def _batch_throughput(tenant: Any, findings: Findings, quick: bool) -> None:
    import boto3

    from chalicelib.dal.loyalty import _interaction_item
    from chalicelib.domain.ids import new_interaction_id
    from chalicelib.domain.interactions import (
        BatchItem,
        Interaction,
        InteractionDraft,
        InteractionType,
    )
    from chalicelib.services import loyalty
    from chalicelib.settings import get_settings

    total = 1_000 if quick else 10_000
    customers = [_new_customer(tenant, f"Batch {n}") for n in range(100 if quick else 500)]
    items = []
    for n in range(total):
        who = customers[n % len(customers)]
        if n % 2:
            draft = _purchase(10 + n % 90, f"batch-{n}")
        else:
            draft = InteractionDraft(type=InteractionType.APP_EVENT, details={"name": "opened"})
        items.append(BatchItem(draft=draft, customer_id=who))

    with counting() as seen:
        started = time.perf_counter()
        for offset in range(0, total, 100):
            result = loyalty.record_batch(
                tenant, items[offset : offset + 100], ACTOR, None, max_items=100
            )
            assert result.failed == 0, result.items[0]
        service_seconds = time.perf_counter() - started

    now = datetime.now(UTC)
    raw = [
        Interaction(
            id=new_interaction_id(),
            customer_id=item.customer_id or "",
            type=item.draft.type,
            occurred_at=now,
            recorded_at=now,
            channel=None,
            location_id=None,
            attributes={},
            details=item.draft.details,
        )
        for item in items
    ]
    settings = get_settings()
    client = boto3.client(
        "dynamodb", endpoint_url=settings.dynamodb_endpoint, region_name=settings.aws_region
    )
    started = time.perf_counter()
    for offset in range(0, total, 25):
        requests = [
            {"PutRequest": {"Item": _interaction_item(tenant, i).serialize()}}
            for i in raw[offset : offset + 25]
        ]
        pending: dict[str, Any] = {settings.data_table: requests}
        while pending:
            answer = client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
    raw_seconds = time.perf_counter() - started

    findings.add("| path | interactions | seconds | interactions/s | DynamoDB calls |")
    findings.add("| --- | --- | --- | --- | --- |")
    findings.add(
        f"| `record_batch` (100 per batch; half purchases with points, half app events) "
        f"| {total:,} | {service_seconds:.1f} | {total / service_seconds:,.0f} "
        f"| {sum(seen.values()):,}: {_describe(seen)} |"
    )
    findings.add(
        f"| raw BatchWriteItem of the same interaction items (25 per call, no points, "
        f"no checks) | {total:,} | {raw_seconds:.1f} | {total / raw_seconds:,.0f} "
        f"| {(total + 24) // 25:,} |"
    )
    findings.add()
    findings.add(
        f"The service path is {service_seconds / raw_seconds:.1f}x the raw write time: each "
        "purchase reads the points account and commits a transaction (interaction, account, "
        "ledger entry, lot marker, order claim); an event checks the customer and puts one "
        "item. Items of different customers run on 8 threads."
    )
    findings.add()


def measure(quick: bool) -> str:
    _install_counter()
    findings = Findings(
        [
            "## Loyalty (issue 4)",
            "",
            "`python -m benchmarks.loyalty`: the service functions in-process against "
            "DynamoDB Local (in memory), DynamoDB calls counted at botocore.",
            "",
        ]
    )
    with local_dynamodb():
        from chalicelib.domain.tenancy import Plan
        from chalicelib.services import tenants

        tenant = tenants.create_tenant("Benchmark", Plan.ENTERPRISE)[0].id
        findings.add("### DynamoDB calls per request")
        findings.add()
        _calls_per_operation(tenant, findings)
        findings.add("### Cost does not grow with the customer's history")
        findings.add()
        _history_independence(tenant, findings, quick)
        findings.add("### Batch ingestion")
        findings.add()
        _batch_throughput(tenant, findings, quick)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    findings.add(f"Measured {stamp}{' (--quick)' if quick else ''}.")
    return "\n".join(findings.lines).rstrip() + "\n"


def write_section(section: str, report: Path = REPORT) -> None:
    """Replace the loyalty section of the report (or append it), leaving the rest alone."""
    block = f"{START_MARK}\n{section}{END_MARK}\n"
    text = report.read_text() if report.exists() else "# Benchmarks\n\n"
    pattern = re.compile(re.escape(START_MARK) + r".*?" + re.escape(END_MARK) + r"\n?", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text + "\n" + block
    report.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loyalty", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes; print only")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory():
        section = measure(arguments.quick)
    print(section)
    if not arguments.quick:
        write_section(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
