"""Latency of create, get and look-up by email through the in-process Chalice test client on
DynamoDB Local, against the raw boto3 calls the same operations make, in the same run.

The raw calls are the app's own: its DynamoDB requests for one warm request of each kind are
recorded (botocore hook) and replayed with a plain boto3 client, so the baseline sends the
same items, keys, conditions and read consistency the service does. Creates replay the
app's TransactWriteItems with a fresh customer id and fresh unique values each time.
"""

from __future__ import annotations

import json
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore import xform_name
from chalice import Chalice
from chalice.test import Client

from benchmarks.call_counter import READ_OPERATIONS, DynamoDBCall
from benchmarks.context import Context
from benchmarks.local_stack import LocalStack, RequestFailed
from benchmarks.report import Comparison, Section, Table, checks_of, comparison_table, format_ms
from benchmarks.stats import Summary
from benchmarks.timing import interleave, timed
from chalicelib.domain.ids import new_audit_entry_id, new_customer_id

MAX_RATIO = 1.5
T = TypeVar("T")


def customer_body(email: str, phone: str, external_id: str) -> dict[str, Any]:
    """A full profile: three unique values (three claims) and two tags (two listings)."""
    return {
        "name": "Ann Lee",
        "email": email,
        "phone": phone,
        "external_id": external_id,
        "tags": ["vip", "newsletter"],
        "attributes": {"tier": "gold", "visits": 3},
        "consent": {"email_marketing": True},
        "address": {"line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"},
    }


def substituted(params: dict[str, Any], replacements: dict[str, str]) -> dict[str, Any]:
    """`params` with every occurrence of each old value (in keys and values) replaced."""
    text = json.dumps(params)
    for old, new in replacements.items():
        if old not in text:
            raise ValueError(f"{old!r} does not occur in the recorded request")
        text = text.replace(old, new)
    result: dict[str, Any] = json.loads(text)
    return result


def fresh_entries(call: DynamoDBCall, audit_table: str, count: int) -> list[dict[str, Any]]:
    """`count` copies of a recorded call's parameters to replay: an audit entry's PutItem
    (conditional on the entry not existing) with a new entry id in each, any other call
    as recorded."""
    if audit_table not in call.tables or call.operation != "PutItem":
        return [call.params] * count
    entry_id = call.params["Item"]["entry_id"]["S"]
    return [substituted(call.params, {entry_id: new_audit_entry_id()}) for _ in range(count)]


def _replay(
    dynamodb: Any, calls: list[DynamoDBCall], audit_table: str, count: int
) -> Callable[[], None]:
    """Send the recorded calls again, `count` times at most (parameters made beforehand)."""
    methods = [
        (
            getattr(dynamodb, xform_name(call.operation)),
            iter(fresh_entries(call, audit_table, count)),
        )
        for call in calls
    ]

    def send() -> None:
        for method, params in methods:
            method(**next(params))

    return send


@dataclass
class Operation:
    label: str
    app: Callable[[], None]
    raw: Callable[[], None]
    raw_calls: str


def _request(stack: LocalStack, method: str, path: str, body: bytes, expect: int) -> None:
    headers = {"Authorization": f"Bearer {stack.tenant_key}"}
    if body:
        headers["Content-Type"] = "application/json"
    response = stack.client.http.request(method, path, headers=headers, body=body)
    if response.status_code != expect:
        raise RequestFailed(f"{method} {path}: {response.status_code} {response.body!r}")


def _recorded(stack: LocalStack, action: Callable[[], T]) -> tuple[list[DynamoDBCall], T]:
    """The data-table and audit-table calls `action` makes: what the operation itself sends,
    with its audit entry. (Control-plane calls are authorisation and bookkeeping, absent on
    a warm cache; they are counted apart.)"""
    with stack.calls.recording() as made:
        answer = action()
    control = stack.environment["CONTROL_TABLE"]
    return [call for call in made if control not in call.tables], answer


def _describe(calls: list[DynamoDBCall]) -> str:
    return " + ".join(call.label for call in calls)


def _create(stack: LocalStack, rounds: int) -> Operation:
    bodies = iter(
        [
            json.dumps(
                customer_body(f"app-{n}@bench.example", f"+49 30 {10000000 + n}", f"app-{n}")
            ).encode()
            for n in range(rounds)
        ]
    )
    email, phone, external_id = "recorded.customer@bench.example", "+493088888888", "xid-0001"
    recorded, answer = _recorded(
        stack,
        lambda: stack.request(
            "POST", "/v1/customers", customer_body(email, phone, external_id), expect=201
        ),
    )
    audit_table = stack.environment["AUDIT_TABLE"]
    entries = [call for call in recorded if audit_table in call.tables]
    writes = [call for call in recorded if audit_table not in call.tables]
    if len(writes) != 1 or len(entries) > 1:
        raise RuntimeError(
            f"create made {[call.label for call in recorded]}; the replay expects one "
            f"transaction and at most one audit entry"
        )
    send_entry = _replay(stack.dynamodb, entries, audit_table, rounds)
    requests = iter(
        [
            substituted(
                writes[0].params,
                {
                    answer.body["id"]: new_customer_id(),
                    email: f"raw-{n}@bench.example",
                    phone: f"+4930{20000000 + n}",
                    external_id: f"raw-{n}",
                },
            )
            for n in range(rounds)
        ]
    )
    dynamodb = stack.dynamodb

    def raw() -> None:
        dynamodb.transact_write_items(**next(requests))
        send_entry()

    return Operation(
        "create customer",
        app=lambda: _request(stack, "POST", "/v1/customers", next(bodies), 201),
        raw=raw,
        raw_calls=_describe(recorded),
    )


def _read(stack: LocalStack, label: str, path: str, rounds: int) -> Operation:
    recorded, _ = _recorded(stack, lambda: stack.request("GET", path))
    return Operation(
        label,
        app=lambda: _request(stack, "GET", path, b"", 200),
        raw=_replay(stack.dynamodb, recorded, stack.environment["AUDIT_TABLE"], rounds),
        raw_calls=_describe(recorded),
    )


def _tally(calls: list[DynamoDBCall]) -> str:
    counts = Counter(call.label for call in calls)
    return ", ".join(f"{count} x {label}" for label, count in counts.most_common()) or "none"


def _bare_chalice_floor(rounds: int) -> Summary:
    """The test client's own cost: a bare Chalice app (no middleware) answering `{}`."""
    bare = Chalice(app_name="bare")

    @bare.route("/ping")
    def ping() -> dict[str, str]:
        return {}

    client = Client(bare, stage_name="bare")
    samples = interleave({"bare": timed(lambda: client.http.request("GET", "/ping"))}, rounds)
    return Summary.of(samples["bare"])


def _measure(
    context: Context, stack: LocalStack, operation: Operation, rounds: int, warmup: int
) -> tuple[Comparison, list[DynamoDBCall]]:
    """Interleave app and raw; answer the comparison and the control-plane calls made while
    timing (the auth cache is warmed first, so a request reads nothing there)."""
    from chalicelib.services import auth

    auth.clear_cache()
    stack.request("GET", "/v1/customers?limit=1")
    context.progress(f"latency: {operation.label}, {rounds} rounds")
    with stack.calls.recording() as made:
        samples = interleave(
            {"app": timed(operation.app), "raw": timed(operation.raw)}, rounds, warmup
        )
    control = stack.environment["CONTROL_TABLE"]
    comparison = Comparison(
        operation.label, Summary.of(samples["app"]), Summary.of(samples["raw"]), MAX_RATIO
    )
    return comparison, [call for call in made if control in call.tables]


def run(context: Context) -> Section:
    from chalicelib.settings import get_settings

    stack = context.stack()
    auditing = get_settings().audit_requests
    rounds = context.repeat(1000, 60)
    warmup = context.repeat(50, 5)
    email = "read.customer@bench.example"
    customer = stack.request(
        "POST", "/v1/customers", customer_body(email, "+49 30 99999999", "xid-read"), expect=201
    ).body
    operations = [
        _create(stack, rounds + warmup),
        _read(stack, "get customer", f"/v1/customers/{customer['id']}", rounds + warmup),
        _read(
            stack,
            "look up by email",
            "/v1/customers?" + urllib.parse.urlencode({"email": email}),
            rounds + warmup,
        ),
    ]
    comparisons = []
    control_calls: list[DynamoDBCall] = []
    for operation in operations:
        comparison, calls = _measure(context, stack, operation, rounds, warmup)
        comparisons.append(comparison)
        control_calls += calls
    control_reads = [call for call in control_calls if call.operation in READ_OPERATIONS]
    control_writes = [call for call in control_calls if call not in control_reads]
    floor = _bare_chalice_floor(rounds)
    raw_table = Table(
        ("operation", "raw boto3 calls replayed (the app's own requests)", "overhead p50 (ms)"),
        [
            (op.label, op.raw_calls, format_ms(c.subject.p50 - c.baseline.p50))
            for op, c in zip(operations, comparisons, strict=True)
        ],
    )
    return Section(
        title="Customer API latency",
        method=(
            f"Create, get and look-up by email through the in-process Chalice test client "
            f"(`chalice.test.Client`, stage `local`) against DynamoDB Local (in memory, on this "
            f"machine), {rounds} requests of each after {warmup} dropped warm-up rounds, each "
            f"interleaved with the raw boto3 calls the operation makes (alternating which goes "
            f"first). The auth cache is warm (TTL 60 s, re-warmed before each operation): a "
            f"timed request costs no control-plane read. The raw client is a plain boto3 client "
            f"with parameter validation off, as PynamoDB configures its own. A customer has "
            f"name, email, phone, external id, two tags, attributes, consent and address (three "
            f"unique claims, two tag listings). As deployed, there is no in-app rate limit "
            f"(API Gateway throttles) and request logs are written at INFO (to /dev/null). "
            f"Request auditing is {'on' if auditing else 'off'} (`AUDIT_REQUESTS`, on by "
            f"default): with it on, the app's calls include the request's audit entry, one "
            f"PutItem on the audit table, which the baseline replays too (with a new entry id "
            f"each time), so the ratio is the app's own code over the calls it makes; what "
            f"auditing adds is measured in the Audit trail section."
        ),
        tables=[comparison_table(comparisons, "app", "raw boto3"), raw_table],
        checks=checks_of(comparisons),
        notes=[
            f"Control-plane calls during the {len(operations) * (rounds + warmup)} timed "
            f"requests: reads {_tally(control_reads)}; writes {_tally(control_writes)}.",
            f"The test client's own floor: a bare Chalice app (no middleware, no DynamoDB) "
            f"answers through the same client in {format_ms(floor.p50)} ms p50 "
            f"({format_ms(floor.p99)} ms p99).",
        ],
    )
