"""The benchmark harness's pure parts (statistics, report, parsing), so `make bench` cannot
rot unnoticed between runs. Nothing here starts a process or opens a socket."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest

from benchmarks import run as bench_run
from benchmarks.batch_ingestion import stored_by_the_run
from benchmarks.call_counter import DynamoDBCall, key_kind, tables_of
from benchmarks.cold_start import ImportLine, extra_imports, parse_importtime
from benchmarks.customer_latency import substituted
from benchmarks.dynamodb_calls import RequestCalls, describe
from benchmarks.machine import Machine, cpu_model, memory_gib
from benchmarks.report import (
    Check,
    Comparison,
    Report,
    Section,
    Table,
    checks_of,
    comparison_table,
    render_report,
)
from benchmarks.stats import Summary, percentile
from benchmarks.timing import interleave, rotation

MACHINE = Machine(
    cpu_model="Test CPU @ 3.00GHz",
    cores=4,
    usable_cores=2,
    memory_gib=15.6,
    python="CPython 3.11.7",
    platform="Linux-test",
    load_average="0.10 / 0.20 / 0.30",
    date_utc="2026-11-22 14:00 UTC",
    packages=(("boto3", "1.0"),),
)


def _summary(p50: float) -> Summary:
    return Summary.of([p50 * 0.9, p50, p50 * 1.1])


def test_percentile_interpolates_between_closest_ranks() -> None:
    # Given one to a hundred
    values = [float(n) for n in range(100, 0, -1)]
    # Then the ends are the extremes, and the rest interpolate as numpy and statistics do
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 100
    assert percentile(values, 50) == 50.5
    assert percentile(values, 99) == pytest.approx(99.01)
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    assert [percentile(values, q) for q in (25, 50, 75)] == pytest.approx(quartiles)
    assert percentile([7.0], 99) == 7


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_refuses_what_has_no_answer(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, q)


def test_summary_reports_spread_and_converts_units() -> None:
    # Given samples in seconds
    summary = Summary.of([0.001, 0.002, 0.003, 0.004, 0.005])
    # When converted to milliseconds
    in_ms = summary.scaled(1000)
    # Then the order statistics scale with it
    assert (in_ms.minimum, in_ms.p50, in_ms.maximum) == pytest.approx((1, 3, 5))
    assert in_ms.iqr == pytest.approx(2)
    assert in_ms.count == 5


def test_comparison_passes_up_to_its_target_ratio() -> None:
    at_target = Comparison("get", _summary(15), _summary(10), max_ratio=1.5)
    over = Comparison("get", _summary(16), _summary(10), max_ratio=1.5)
    informative = Comparison("process", _summary(16), _summary(10))

    assert at_target.ratio == pytest.approx(1.5)
    assert at_target.check() == Check("get: p50 ratio", "1.50x", "≤ 1.50x", True)
    over_check = over.check()
    assert over_check is not None and over_check.verdict == "MISS"
    assert informative.check() is None
    assert checks_of([at_target, informative]) == [at_target.check()]


def test_report_shows_machine_summary_and_each_section() -> None:
    # Given two sections, one target met and one missed
    comparison = Comparison("get customer", _summary(12), _summary(10), max_ratio=1.5)
    sections = [
        Section(
            title="Latency",
            method="Interleaved.",
            tables=[comparison_table([comparison], "app", "raw")],
            checks=checks_of([comparison]),
            notes=["No control-plane calls."],
            seconds=3,
        ),
        Section(
            title="Calls",
            method="Counted.",
            tables=[Table(("request", "calls"), [("get", "GetItem | Query")])],
            checks=[Check("cold auth", "2 reads", "≤ 1 read", False)],
        ),
    ]
    # When rendered
    text = render_report(Report(MACHINE, sections, seconds=42))
    # Then it names the machine and date, and lists every verdict in the summary
    assert "Test CPU @ 3.00GHz" in text
    assert "4 logical (2 usable by this process)" in text
    assert "2026-11-22 14:00 UTC" in text
    assert "| Latency: get customer: p50 ratio | 1.20x | ≤ 1.50x | **PASS** |" in text
    assert "| Calls: cold auth | 2 reads | ≤ 1 read | **MISS** |" in text
    assert "## Latency" in text and "## Calls" in text
    assert "- No control-plane calls." in text
    assert "GetItem \\| Query" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_machine_facts_are_read_from_proc_text() -> None:
    cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 3.00GHz\n"
    assert cpu_model(cpuinfo) == "Test CPU @ 3.00GHz"
    assert cpu_model("processor\t: 0\n") == "unknown"
    assert memory_gib("MemTotal:       16384000 kB\nMemFree: 1 kB\n") == pytest.approx(15.625)


def test_interleave_rotates_the_order_and_drops_the_warmup() -> None:
    # Given samplers that note when they ran
    calls: list[str] = []

    def sampler(name: str) -> Callable[[], int]:
        def sample() -> int:
            calls.append(name)
            return len(calls)

        return sample

    # When interleaved for two rounds after one warm-up round
    samples = interleave({"a": sampler("a"), "b": sampler("b")}, rounds=2, warmup=1)
    # Then each round alternates who goes first, and the warm-up round is not kept
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert samples == {"a": [4, 5], "b": [3, 6]}
    assert rotation(["a", "b", "c"], 4) == ["b", "c", "a"]


def test_importtime_difference_is_attributed_to_packages() -> None:
    # Given -X importtime output for the subject and the baseline
    subject = parse_importtime(
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |   botocore\n"
        "import time:      2000 |       2500 |     pydantic.main\n"
        "import time:       500 |        500 |       pydantic_core\n"
        "import time:      3000 |       5600 |   chalicelib.schemas.customers\n"
        "some other line\n"
    )
    baseline = parse_importtime("import time:       120 |        120 | botocore\n")
    # Then only what the baseline does not import counts, by package (ours by module)
    assert subject[1] == ImportLine("pydantic.main", 2000, 2500)
    assert extra_imports([subject], [baseline]) == {
        "chalicelib.schemas.customers": 3.0,
        "pydantic": 2.0,
        "pydantic_core": 0.5,
    }


def test_recorded_requests_are_replayed_with_fresh_values() -> None:
    params = {"Item": {"pk": {"S": "T#t#EMAIL#a@x.example"}, "email": {"S": "a@x.example"}}}
    assert substituted(params, {"a@x.example": "b@x.example"}) == {
        "Item": {"pk": {"S": "T#t#EMAIL#b@x.example"}, "email": {"S": "b@x.example"}}
    }
    with pytest.raises(ValueError):
        substituted(params, {"absent": "x"})


def test_calls_are_told_apart_by_table_and_kind() -> None:
    # Given a cold-cache request's calls
    calls = [
        DynamoDBCall("GetItem", ("control",), {"Key": {"pk": {"S": "APIKEY#abc"}}}),
        DynamoDBCall("GetItem", ("control",), {"Key": {"pk": {"S": "TENANT#ten_1"}}}),
        DynamoDBCall("UpdateItem", ("control",), {"Key": {"pk": {"S": "APIKEY#abc"}}}),
        DynamoDBCall("GetItem", ("data",), {"Key": {"pk": {"S": "T#ten_1#CUS#cus_1"}}}),
        DynamoDBCall("PutItem", ("audit",), {"Item": {"pk": {"S": "T#ten_1#AUDIT"}}}),
    ]
    # Then reads and writes of the control plane are counted apart from the data table's,
    # and the audit entry apart from both
    counted = RequestCalls.of(calls, control_table="control", audit_table="audit")
    assert counted.data == counted.data_reads == ("GetItem CUS",)
    assert counted.data_writes == ()
    assert counted.audit == ("PutItem AUDIT",)
    assert counted.control_reads == ("GetItem APIKEY", "GetItem TENANT")
    assert counted.control_writes == ("UpdateItem APIKEY",)
    assert describe(()) == "none"


def test_a_transaction_is_labelled_by_the_kinds_of_item_it_writes() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "d", "Item": {"pk": {"S": "T#ten_1#CUS#cus_1"}}}},
            {"Update": {"TableName": "d", "Key": {"pk": {"S": "T#ten_1#COUNTERS"}}}},
            {"Put": {"TableName": "d", "Item": {"pk": {"S": "T#ten_1#TAG#vip"}}}},
            {"Put": {"TableName": "d", "Item": {"pk": {"S": "T#ten_1#TAG#new"}}}},
        ]
    }
    call = DynamoDBCall("TransactWriteItems", tables_of(params), params)
    assert call.label == "TransactWriteItems (Put CUS, Update COUNTERS, 2 x Put TAG)"
    assert key_kind("APIKEY#abc") == "APIKEY"
    assert key_kind("T#ten_1#EMAIL#a@b.example") == "EMAIL"
    transaction = {"TransactItems": [{"Put": {"TableName": "d"}}, {"Delete": {"TableName": "d"}}]}
    assert tables_of(transaction) == ("d", "d")
    assert tables_of({"RequestItems": {"d": {}}}) == ("d",)


def test_every_registered_benchmark_has_an_entry_function() -> None:
    for name in bench_run.BENCHMARKS:
        assert callable(bench_run.load(name)), name


def test_the_items_a_run_stored_are_those_it_added_or_changed() -> None:
    # Given the data table before and after a run: one item untouched, one changed, one added
    untouched = {"pk": {"S": "T#t#CUS#1"}, "sk": {"S": "PROFILE"}}
    account_before = {"pk": {"S": "T#t#CUS#1"}, "sk": {"S": "POINTS"}, "balance": {"N": "0"}}
    account_after = {**account_before, "balance": {"N": "10"}}
    interaction = {"pk": {"S": "T#t#CUS#1"}, "sk": {"S": "INT#1"}}
    before = {("T#t#CUS#1", "PROFILE"): untouched, ("T#t#CUS#1", "POINTS"): account_before}
    after = {
        **before,
        ("T#t#CUS#1", "POINTS"): account_after,
        ("T#t#CUS#1", "INT#1"): interaction,
    }

    # When the stored items are worked out
    stored = stored_by_the_run(before, after)

    # Then they are the changed account (as it ended up) and the new interaction
    assert stored == [account_after, interaction]
