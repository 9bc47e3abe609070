"""What auditing adds to a read (issue 7): its latency against the same read with auditing
off, in the same run, and the DynamoDB calls it adds per request (target: at most one
write, no read).

Auditing is switched the way a deployment switches it: `AUDIT_REQUESTS` in the environment,
re-read by `reset_settings()`. A switch makes the models bind new connections (new botocore
clients), so every batch starts with untimed requests after its switch; batches of the two
modes alternate (AB, BA, ...) so that a slow spell of the shared machine falls on both.
Every timed request's DynamoDB calls are counted as well, so the call check covers exactly
the requests that were timed. Off the request path, the audit table's stream function is run
in process over batches of the same entries and its calls are counted, for information.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks.call_counter import READ_OPERATIONS, DynamoDBCall
from benchmarks.context import Context
from benchmarks.local_stack import LocalStack, RequestFailed
from benchmarks.report import Check, Section, Table, format_ms, format_ratio
from benchmarks.stats import Summary, ratio
from benchmarks.timing import interleave

AUDIT_SWITCH = "AUDIT_REQUESTS"
MAX_ADDED_WRITES = 1
LIST_LIMIT = 25
ON, OFF, RAW = "audit on", "audit off", "entry PutItem alone"


@dataclass(frozen=True)
class Tables:
    data: str
    audit: str
    control: str


@dataclass(frozen=True)
class RequestCost:
    """The DynamoDB calls one request made (their labels), by table and by read or write.
    Calls to a table other than the audit and control tables count as data-table calls."""

    data_reads: tuple[str, ...] = ()
    data_writes: tuple[str, ...] = ()
    audit_reads: tuple[str, ...] = ()
    audit_writes: tuple[str, ...] = ()
    control_reads: tuple[str, ...] = ()
    control_writes: tuple[str, ...] = ()

    @classmethod
    def of(cls, calls: Iterable[DynamoDBCall], tables: Tables) -> RequestCost:
        found: dict[str, list[str]] = {name: [] for name in cls.__dataclass_fields__}
        for call in calls:
            if tables.audit in call.tables:
                table = "audit"
            elif tables.control in call.tables:
                table = "control"
            else:
                table = "data"
            kind = "reads" if call.operation in READ_OPERATIONS else "writes"
            found[f"{table}_{kind}"].append(call.label)
        return cls(**{name: tuple(sorted(labels)) for name, labels in found.items()})

    @property
    def reads(self) -> tuple[str, ...]:
        return self.data_reads + self.audit_reads + self.control_reads

    @property
    def writes(self) -> tuple[str, ...]:
        return self.data_writes + self.audit_writes + self.control_writes


def describe(labels: Sequence[str]) -> str:
    """`2 x GetItem CUS, PutItem AUDIT`, or `none`."""
    counts = Counter(labels)
    parts = [f"{n} x {label}" if n > 1 else label for label, n in sorted(counts.items())]
    return ", ".join(parts) or "none"


def variation(costs: Sequence[RequestCost]) -> str:
    """How many requests cost what the typical one did, and what the others made."""
    common = typical(costs)
    others = Counter(describe(c.reads + c.writes) for c in costs if c != common).most_common()
    if not others:
        return f"all {len(costs)}"
    detail = "; ".join(f"{n} x {calls}" for calls, n in others)
    return f"{len(costs) - sum(n for _, n in others)} of {len(costs)} (others: {detail})"


def typical(costs: Sequence[RequestCost]) -> RequestCost:
    """The most common cost among the requests."""
    return Counter(costs).most_common(1)[0][0]


def added(subject: RequestCost, baseline: RequestCost) -> tuple[list[str], list[str]]:
    """The reads and the writes `subject` made beyond `baseline` (labels, sorted)."""
    reads = Counter(subject.reads) - Counter(baseline.reads)
    writes = Counter(subject.writes) - Counter(baseline.writes)
    return sorted(reads.elements()), sorted(writes.elements())


def _share(matching: int, total: int) -> str:
    return f"all {total}" if matching == total else f"{matching} of {total}"


def writes_check(
    label: str, audited: Sequence[RequestCost], unaudited: Sequence[RequestCost]
) -> Check:
    """Every audited request writes exactly one audit entry (one PutItem on the audit table)
    beyond what the same request writes unaudited, and nothing else: at most one write."""
    baseline = typical(unaudited)
    extra = [added(cost, baseline)[1] for cost in audited]
    exact = [
        writes
        for writes, cost in zip(extra, audited, strict=True)
        if len(writes) == 1
        and writes[0].startswith("PutItem")
        and cost.audit_writes == tuple(writes)
    ]
    most = max((len(writes) for writes in extra), default=0)
    return Check(
        label=f"{label}: DynamoDB writes auditing adds per request",
        measured=f"{describe(typical_of(extra))} ({_share(len(exact), len(audited))} requests; "
        f"at most {most})",
        target=f"1 PutItem of the entry, ≤ {MAX_ADDED_WRITES} write",
        passed=bool(audited) and len(exact) == len(audited) and most <= MAX_ADDED_WRITES,
    )


def typical_of(lists: Sequence[list[str]]) -> list[str]:
    if not lists:
        return []
    return list(Counter(tuple(items) for items in lists).most_common(1)[0][0])


def reads_check(
    label: str, audited: Sequence[RequestCost], unaudited: Sequence[RequestCost]
) -> Check:
    """Auditing reads nothing: every audited request reads what the request reads unaudited."""
    baseline = typical(unaudited)
    extra = [reads for cost in audited if (reads := added(cost, baseline)[0])]
    measured = (
        f"{describe(typical_of(extra))} in {len(extra)} of {len(audited)} requests"
        if extra
        else f"none (all {len(audited)} requests)"
    )
    return Check(
        label=f"{label}: DynamoDB reads auditing adds per request",
        measured=measured,
        target="none",
        passed=bool(audited) and not extra,
    )


def unaudited_check(label: str, unaudited: Sequence[RequestCost]) -> Check:
    """With auditing off, no request touches the audit table (else the baseline is not one)."""
    touched = [cost for cost in unaudited if cost.audit_reads or cost.audit_writes]
    return Check(
        label=f"{label}: audit-table calls with auditing off",
        measured=f"{len(touched)} of {len(unaudited)} requests",
        target="none",
        passed=bool(unaudited) and not touched,
    )


def items_written(call: DynamoDBCall) -> int:
    """How many items a write call writes (a transaction's or a batch's items; else one)."""
    if call.operation in READ_OPERATIONS:
        return 0
    if "TransactItems" in call.params:
        return len(call.params["TransactItems"])
    if "RequestItems" in call.params:
        return sum(len(requests) for requests in call.params["RequestItems"].values())
    return 1


def insert_record(item: dict[str, Any], sequence: int, created: int) -> dict[str, Any]:
    """The audit table's stream record of a new item, as Lambda delivers it."""
    return {
        "eventID": f"benchmark-{sequence}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": created,
            "Keys": {"pk": item["pk"], "sk": item["sk"]},
            "NewImage": item,
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": 0,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/audit/stream/benchmark",
    }


@dataclass(frozen=True)
class StreamBatch:
    """What the audit table's stream function did for one batch of `entries` new entries."""

    entries: int
    calls: list[DynamoDBCall]

    def per_entry(self, reads: bool) -> str:
        chosen = [c for c in self.calls if (c.operation in READ_OPERATIONS) is reads]
        counts = Counter(c.label for c in chosen)
        parts = [f"{n / self.entries:.2f} x {label}" for label, n in sorted(counts.items())]
        return ", ".join(parts) or "none"

    def items_per_entry(self) -> float:
        return sum(items_written(call) for call in self.calls) / self.entries


@dataclass(frozen=True)
class Sample:
    ms: float
    cost: RequestCost


# The raw PutItem's cost is not counted: it goes through a client the counter does not see.
SENT_RAW = RequestCost()


@dataclass(frozen=True)
class Measured:
    label: str
    audited: list[Sample]
    unaudited: list[Sample]
    raw_puts: list[Sample]
    stream: list[StreamBatch]

    def summary(self, samples: Sequence[Sample]) -> Summary:
        return Summary.of([sample.ms for sample in samples])

    def checks(self) -> list[Check]:
        on = [sample.cost for sample in self.audited]
        off = [sample.cost for sample in self.unaudited]
        return [
            writes_check(self.label, on, off),
            reads_check(self.label, on, off),
            unaudited_check(self.label, off),
        ]


def flattened(batches: Iterable[list[Sample]]) -> list[Sample]:
    return [sample for batch in batches for sample in batch]


@contextmanager
def audit_switch() -> Iterator[Callable[[bool], None]]:
    """A function that turns request auditing on or off (environment, then the settings
    re-read and the auth cache cleared); the original setting is restored afterwards."""
    from chalicelib.services import auth
    from chalicelib.settings import get_settings, reset_settings

    saved = os.environ.get(AUDIT_SWITCH)

    def switch(on: bool) -> None:
        os.environ[AUDIT_SWITCH] = "true" if on else "false"
        reset_settings()
        auth.clear_cache()
        if get_settings().audit_requests is not on:
            raise RuntimeError(f"{AUDIT_SWITCH} did not switch auditing {'on' if on else 'off'}")

    try:
        yield switch
    finally:
        if saved is None:
            os.environ.pop(AUDIT_SWITCH, None)
        else:
            os.environ[AUDIT_SWITCH] = saved
        reset_settings()
        auth.clear_cache()


def _tables(stack: LocalStack) -> Tables:
    env = stack.environment
    return Tables(env["DATA_TABLE"], env["AUDIT_TABLE"], env["CONTROL_TABLE"])


def _get(stack: LocalStack, path: str) -> None:
    headers = {"Authorization": f"Bearer {stack.tenant_key}"}
    response = stack.client.http.request("GET", path, headers=headers)
    if response.status_code != 200:
        raise RequestFailed(f"GET {path}: {response.status_code} {response.body!r}")


def _entry_put(stack: LocalStack, path: str, switch: Callable[[bool], None]) -> DynamoDBCall:
    """The PutItem an audited request makes (recorded), to replay alone with boto3."""
    switch(True)
    _get(stack, path)
    with stack.calls.recording() as made:
        _get(stack, path)
    puts = [c for c in made if stack.environment["AUDIT_TABLE"] in c.tables]
    if len(puts) != 1 or puts[0].operation != "PutItem":
        raise RuntimeError(
            f"an audited GET {path} made {[c.label for c in puts]} on the audit table"
        )
    return puts[0]


def _raw_puts(stack: LocalStack, put: DynamoDBCall, size: int) -> Callable[[], list[Sample]]:
    """A batch of the entry's PutItem sent with a plain boto3 client, each with a new id
    (the item is conditional on not existing), condition and size as the service sends it."""
    from benchmarks.customer_latency import substituted
    from chalicelib.domain.ids import new_audit_entry_id

    entry_id = put.params["Item"]["entry_id"]["S"]

    def batch() -> list[Sample]:
        samples = []
        for _ in range(size):
            params = substituted(put.params, {entry_id: new_audit_entry_id()})
            started = time.perf_counter()
            stack.dynamodb.put_item(**params)
            samples.append(Sample((time.perf_counter() - started) * 1000, SENT_RAW))
        return samples

    return batch


def _requests(
    stack: LocalStack,
    path: str,
    on: bool,
    switch: Callable[[bool], None],
    size: int,
    untimed: int,
) -> Callable[[], list[Sample]]:
    tables = _tables(stack)
    counted = stack.calls.calls

    def batch() -> list[Sample]:
        switch(on)
        for _ in range(untimed):
            _get(stack, path)
        samples = []
        for _ in range(size):
            first = len(counted)
            started = time.perf_counter()
            _get(stack, path)
            ms = (time.perf_counter() - started) * 1000
            samples.append(Sample(ms, RequestCost.of(counted[first:], tables)))
        return samples

    return batch


def _measure(
    context: Context,
    stack: LocalStack,
    label: str,
    path: str,
    switch: Callable[[bool], None],
    batches: int,
    size: int,
    stream_batches: Sequence[int],
) -> Measured:
    put = _entry_put(stack, path, switch)
    context.progress(f"audit: {label}, {batches} batches of {size} per mode, interleaved")
    untimed = 2
    samples = interleave(
        {
            ON: _requests(stack, path, True, switch, size, untimed),
            OFF: _requests(stack, path, False, switch, size, untimed),
            RAW: _raw_puts(stack, put, size),
        },
        rounds=batches,
        warmup=1,
    )
    stream = [_stream_batch(stack, put, size) for size in stream_batches]
    audited, unaudited, raw = (flattened(samples[name]) for name in (ON, OFF, RAW))
    return Measured(label, audited, unaudited, raw, stream)


def _stream_batch(stack: LocalStack, put: DynamoDBCall, size: int) -> StreamBatch:
    """`size` copies of the request's entry put (raw, as requests would have), then the
    audit table's stream function run over their records in one batch, its calls counted."""
    from benchmarks.customer_latency import fresh_entries
    from chalicelib.dal.attribution import system_writer, writing_as
    from chalicelib.streams.audit import process_trail_batch

    copies = fresh_entries(put, stack.environment["AUDIT_TABLE"], size)
    for params in copies:
        stack.dynamodb.put_item(**params)
    created = int(time.time())
    event = {"Records": [insert_record(p["Item"], n, created) for n, p in enumerate(copies)]}
    with (
        writing_as(system_writer("chain_audit_trail", None)),
        stack.calls.recording() as made,
    ):
        answer = process_trail_batch(event, None)
    if answer.get("batchItemFailures"):
        raise RuntimeError(f"the audit stream function failed {answer['batchItemFailures']}")
    return StreamBatch(size, made)


def latency_row(measured: Measured) -> tuple[str, ...]:
    on, off = measured.summary(measured.audited), measured.summary(measured.unaudited)
    raw = measured.summary(measured.raw_puts)
    return (
        measured.label,
        format_ms(on.p50),
        format_ms(on.p99),
        format_ms(on.iqr),
        format_ms(off.p50),
        format_ms(off.p99),
        format_ms(off.iqr),
        format_ms(on.p50 - off.p50),
        format_ms(on.p99 - off.p99),
        format_ratio(ratio(on.p50, off.p50)),
        format_ms(raw.p50),
    )


LATENCY_HEADERS = (
    "",
    "audit on p50 (ms)",
    "p99",
    "IQR",
    "audit off p50 (ms)",
    "p99",
    "IQR",
    "added p50 (ms)",
    "added p99 (ms)",
    "ratio p50",
    "the entry's PutItem alone, raw boto3 p50 (ms)",
)


def _calls_rows(measured: Measured) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for mode, samples in ((OFF, measured.unaudited), (ON, measured.audited)):
        costs = [sample.cost for sample in samples]
        common = typical(costs)
        rows.append(
            (
                measured.label,
                mode,
                describe(common.reads),
                describe(common.writes),
                variation(costs),
            )
        )
    return rows


def _customers(stack: LocalStack, count: int) -> list[str]:
    ids = []
    for n in range(count):
        body = {
            "name": f"Audited {n}",
            "email": f"audited-{n}@bench.example",
            "tags": ["vip"],
            "attributes": {"tier": "gold"},
        }
        ids.append(stack.request("POST", "/v1/customers", body, expect=201).body["id"])
    return ids


def run(context: Context) -> Section:
    stack = context.stack()
    batches = context.repeat(15, 3)
    get_size, list_size = context.repeat(40, 10), context.repeat(20, 5)
    stream_batches = (1, context.repeat(100, 10))
    customer = _customers(stack, LIST_LIMIT)[0]
    list_path = f"/v1/customers?limit={LIST_LIMIT}"
    listed = stack.request("GET", list_path).body["items"]
    if len(listed) != LIST_LIMIT:
        raise RuntimeError(f"the list answered {len(listed)} customers, not {LIST_LIMIT}")
    with audit_switch() as switch:
        measured = [
            _measure(
                context,
                stack,
                "get customer",
                f"/v1/customers/{customer}",
                switch,
                batches,
                get_size,
                stream_batches,
            ),
            _measure(
                context,
                stack,
                f"list {LIST_LIMIT} customers",
                list_path,
                switch,
                batches,
                list_size,
                stream_batches,
            ),
        ]
    checks = [check for item in measured for check in item.checks()]
    latency = Table(LATENCY_HEADERS, [latency_row(item) for item in measured])
    calls = Table(
        ("request", "mode", "reads", "writes", "requests like this"),
        [row for item in measured for row in _calls_rows(item)],
        caption="DynamoDB calls of every timed request, by mode (the typical request shown):",
    )
    stream = Table(
        (
            "entry of",
            "entries in the batch",
            "reads per entry",
            "writes per entry",
            "items written per entry",
        ),
        [
            (
                item.label,
                str(batch.entries),
                batch.per_entry(reads=True),
                batch.per_entry(reads=False),
                f"{batch.items_per_entry():.2f}",
            )
            for item in measured
            for batch in item.stream
        ],
        caption=(
            "Off the request path (for information; the target above is the request's): "
            "`chain_audit_trail`, the audit table's stream function, run in process over "
            "batches of such entries (copies of the recorded PutItem, put first), its calls "
            "counted the same way:"
        ),
    )
    return Section(
        title="Audit trail",
        method=(
            f"`GET /v1/customers/{{id}}` and `GET /v1/customers?limit={LIST_LIMIT}` (whose entry "
            f"names the {LIST_LIMIT} customers returned) through the in-process Chalice test "
            f"client on DynamoDB Local, with request auditing on and off (`{AUDIT_SWITCH}`, "
            f"re-read by `reset_settings()`), in {batches} batches per mode after one dropped "
            f"round ({get_size} and {list_size} requests a batch), the modes alternating "
            f"(AB, BA, ...), with a third sampler in the rotation: the entry's own PutItem "
            f"(recorded from an audited request, replayed with a plain boto3 client and a new "
            f"entry id each time). A switch re-reads the settings, so the models bind new "
            f"connections: each batch starts with 2 untimed requests. The auth cache is warm "
            f"in every timed request. Added p99 is the difference of the two p99s, not a "
            f"percentile of differences. The latency has no target (the issue asks for the "
            f"figure); the calls do: every timed request's DynamoDB calls are counted with "
            f"the harness's botocore hook."
        ),
        tables=[latency, calls, stream],
        checks=checks,
        notes=[
            "A digest is written once per tenant per batch, so its share per entry falls as "
            "batches grow; an entry naming several customers (a list) is copied under each of "
            "them (BatchWriteItem) so that the trail can be filtered by customer; the alert "
            "window (UpdateItem AUDIT) counts the customers a key reads.",
        ],
    )
