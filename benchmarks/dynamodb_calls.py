"""DynamoDB calls per operation, counted with a botocore event hook, and what authorisation
costs on a cold and on a warm cache."""

from __future__ import annotations

import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import botocore.session

from benchmarks.call_counter import READ_OPERATIONS, DynamoDBCall
from benchmarks.context import Context
from benchmarks.local_stack import LocalStack
from benchmarks.report import Check, Section, Table, format_ms
from benchmarks.stats import Summary
from benchmarks.timing import interleave, timed


@dataclass(frozen=True)
class RequestCalls:
    """The DynamoDB calls one API request made: the data table's reads and writes, the
    audit table's calls (the request's audit entry) and the control plane's reads and
    writes. Calls to any other table count with the data table's."""

    data_reads: tuple[str, ...]
    data_writes: tuple[str, ...]
    audit: tuple[str, ...]
    control_reads: tuple[str, ...]
    control_writes: tuple[str, ...]

    @classmethod
    def of(
        cls, calls: Sequence[DynamoDBCall], control_table: str, audit_table: str
    ) -> RequestCalls:
        control = [call for call in calls if control_table in call.tables]
        audit = [call for call in calls if audit_table in call.tables]
        data = [
            call
            for call in calls
            if control_table not in call.tables and audit_table not in call.tables
        ]
        return cls(
            data_reads=_labels(data, reads=True),
            data_writes=_labels(data, reads=False),
            audit=tuple(call.label for call in audit),
            control_reads=_labels(control, reads=True),
            control_writes=_labels(control, reads=False),
        )

    @property
    def data(self) -> tuple[str, ...]:
        return self.data_reads + self.data_writes


def _labels(calls: Sequence[DynamoDBCall], reads: bool) -> tuple[str, ...]:
    return tuple(call.label for call in calls if (call.operation in READ_OPERATIONS) is reads)


def describe(operations: Sequence[str]) -> str:
    """`GetItem + GetItem`, or `none`."""
    return " + ".join(operations) if operations else "none"


@dataclass(frozen=True)
class Expectation:
    label: str
    target: str
    holds: Callable[[RequestCalls], bool]


@dataclass(frozen=True)
class Observed:
    expectation: Expectation
    requests: list[RequestCalls]

    @property
    def typical(self) -> RequestCalls:
        return Counter(self.requests).most_common(1)[0][0]

    @property
    def passed(self) -> bool:
        return all(self.expectation.holds(request) for request in self.requests)

    def variation(self) -> str:
        """How many requests looked like the typical one, and what the others did."""
        others = [r for r in self.requests if r != self.typical]
        if not others:
            return f"all {len(self.requests)}"
        extra = Counter(
            describe(r.data + r.audit + r.control_reads + r.control_writes) for r in others
        ).most_common()
        detail = "; ".join(f"{count} x {calls}" for calls, count in extra)
        return f"{len(self.requests) - len(others)} of {len(self.requests)} (others: {detail})"


def _observe(
    stack: LocalStack,
    expectation: Expectation,
    send: Callable[[int], object],
    repetitions: int,
    before: Callable[[], object] | None = None,
) -> Observed:
    control_table = stack.environment["CONTROL_TABLE"]
    audit_table = stack.environment["AUDIT_TABLE"]
    requests = []
    for n in range(repetitions):
        if before is not None:
            before()
        with stack.calls.recording() as made:
            send(n)
        requests.append(RequestCalls.of(made, control_table, audit_table))
    return Observed(expectation, requests)


def operations(labels: Sequence[str]) -> tuple[str, ...]:
    return tuple(label.split()[0] for label in labels)


def audit_target(entries: int) -> str:
    """What the target says of the audit table: the request's entry, or none."""
    return "1 audit PutItem" if entries else "no audit write (auditing off)"


def audited(entries: int) -> Callable[[RequestCalls], bool]:
    """The request put exactly `entries` audit entries (PutItem) and did nothing else on
    the audit table."""
    return lambda calls: operations(calls.audit) == ("PutItem",) * entries


def only_write(operation: str, entries: int) -> Callable[[RequestCalls], bool]:
    """No data read, one data write of `operation`, and the audit entries."""
    written = audited(entries)
    return lambda calls: (
        not calls.data_reads and operations(calls.data_writes) == (operation,) and written(calls)
    )


def reads_only(fewest: int, most: int, entries: int) -> Callable[[RequestCalls], bool]:
    """`fewest` to `most` data reads, no data write, and the audit entries."""
    written = audited(entries)
    return lambda calls: (
        fewest <= len(calls.data_reads) <= most and not calls.data_writes and written(calls)
    )


def _row(observed: Observed) -> tuple[str, ...]:
    typical = observed.typical
    return (
        observed.expectation.label,
        describe(typical.data_reads),
        describe(typical.data_writes),
        describe(typical.audit),
        describe(typical.control_reads),
        describe(typical.control_writes),
        observed.variation(),
        observed.expectation.target,
        "**PASS**" if observed.passed else "**MISS**",
    )


def _check(observed: Observed, measured: str) -> Check:
    return Check(observed.expectation.label, measured, observed.expectation.target, observed.passed)


def _client_creation_ms(endpoint: str, repetitions: int) -> tuple[Summary, Summary]:
    """A DynamoDB client from a new botocore session, and another from the same session."""

    def client(session: botocore.session.Session) -> object:
        return session.create_client(
            "dynamodb",
            "us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="benchmark",
            aws_secret_access_key="benchmark",
        )

    shared = botocore.session.get_session()
    client(shared)
    samples = interleave(
        {
            "new session": timed(lambda: client(botocore.session.get_session())),
            "same session": timed(lambda: client(shared)),
        },
        repetitions,
    )
    return Summary.of(samples["new session"]), Summary.of(samples["same session"])


def _first_request_clients(stack: LocalStack, path: str) -> tuple[int, int]:
    """Botocore clients created, and DynamoDB calls made, by the first request after the
    models bind new connections (as in a new container)."""
    stack.rebind()
    before = stack.calls.clients_created
    with stack.calls.recording() as made:
        stack.request("GET", path)
    return stack.calls.clients_created - before, len(made)


def run(context: Context) -> Section:
    from chalicelib.services import auth
    from chalicelib.settings import get_settings

    stack = context.stack()
    repetitions = context.repeat(20, 3)
    context.progress(f"DynamoDB calls: {repetitions} requests of each kind")
    customer = stack.request(
        "POST",
        "/v1/customers",
        {"name": "Counted", "email": "counted@bench.example", "tags": ["vip"]},
        expect=201,
    ).body
    get_path = f"/v1/customers/{customer['id']}"
    lookup_path = "/v1/customers?" + urllib.parse.urlencode({"email": "counted@bench.example"})

    def create(n: int) -> object:
        body = {"name": f"Counted {n}", "email": f"counted-{n}@bench.example", "tags": ["vip"]}
        return stack.request("POST", "/v1/customers", body, expect=201)

    def get(n: int) -> object:
        return stack.request("GET", get_path)

    def look_up(n: int) -> object:
        return stack.request("GET", lookup_path)

    # Each request to tenant data also puts its audit entry, unless auditing is off.
    entries = 1 if get_settings().audit_requests else 0
    entry = audit_target(entries)
    create_once = Expectation(
        "create customer",
        f"reads: none; writes: 1 TransactWriteItems + {entry}",
        only_write("TransactWriteItems", entries),
    )
    get_once = Expectation(
        "get customer (profile and metrics)",
        f"reads: 1 (GetItem or Query); writes: {entry}",
        reads_only(1, 1, entries),
    )
    look_up_once = Expectation(
        "look up by email", f"reads: 1 or 2; writes: {entry}", reads_only(1, 2, entries)
    )
    cold_auth = Expectation(
        "authorisation, cold cache",
        "≤ 1 control-plane read (issue 3)",
        lambda calls: len(calls.control_reads) <= 1,
    )
    warm_auth = Expectation(
        "authorisation, warm cache", "0 control-plane reads", lambda calls: not calls.control_reads
    )

    auth.clear_cache()
    get(0)
    operations = [
        _observe(stack, create_once, create, repetitions),
        _observe(stack, get_once, get, repetitions),
        _observe(stack, look_up_once, look_up, repetitions),
    ]
    cold = _observe(stack, cold_auth, get, repetitions, before=auth.clear_cache)
    auth.clear_cache()
    get(0)
    warm = _observe(stack, warm_auth, get, repetitions)
    clients, first_calls = _first_request_clients(stack, get_path)
    new_session, same_session = _client_creation_ms(
        stack.environment["DYNAMODB_ENDPOINT"], repetitions
    )
    headers = (
        "request",
        "data-table reads",
        "data-table writes",
        "audit-table calls",
        "control-plane reads",
        "control-plane writes",
        "requests like this",
        "target",
        "result",
    )
    per_operation = Table(headers, [_row(observed) for observed in operations])
    authorisation = Table(
        headers,
        [_row(observed) for observed in (cold, warm)],
        caption=(
            "Authorisation: `GET /v1/customers/{id}` with the auth cache cleared before every "
            "request (cold), and with it warm:"
        ),
    )
    checks = [
        _check(
            o,
            f"reads: {describe(o.typical.data_reads)}; "
            f"writes: {describe(o.typical.data_writes + o.typical.audit)}",
        )
        for o in operations
    ]
    checks += [
        _check(o, f"{len(o.typical.control_reads)} read(s): {describe(o.typical.control_reads)}")
        for o in (cold, warm)
    ]
    return Section(
        title="DynamoDB calls per operation",
        method=(
            f"Every DynamoDB call PynamoDB makes is counted by a botocore event hook "
            f"(`provide-client-params.dynamodb`, registered on every botocore session created "
            f"while the benchmark runs; once per API call, retries excluded), over "
            f"{repetitions} requests of each kind through the in-process API on DynamoDB Local. "
            f"Operations are measured on a warm auth cache; the typical request is shown, and "
            f"every request must meet the target. Reads and writes are counted apart: with "
            f"request auditing on (`AUDIT_REQUESTS`, the default; here "
            f"{'on' if entries else 'off'}), every request to tenant data also puts its audit "
            f"entry: one PutItem, and no other call, on the audit table (issue 7)."
        ),
        tables=[per_operation, authorisation],
        checks=checks,
        notes=[
            f"The first `GET /v1/customers/{{id}}` after the models bind new connections (as in "
            f"a new container) created {clients} botocore DynamoDB clients for its "
            f"{first_calls} calls: PynamoDB gives every connection (one per model class, one "
            f"for transactions) a botocore session of its own. A client from a new session "
            f"took {format_ms(new_session.p50)} ms p50 here (the session loads and parses the "
            f"DynamoDB service model), another from the same session "
            f"{format_ms(same_session.p50)} ms.",
        ],
    )
