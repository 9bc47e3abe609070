"""The audit benchmark's pure parts: how a request's calls are sorted, what auditing is
found to add, and when its checks pass. Nothing here starts a process or opens a socket."""

from __future__ import annotations

from typing import Any

from benchmarks.audit import (
    RequestCost,
    Sample,
    StreamBatch,
    Tables,
    added,
    describe,
    flattened,
    insert_record,
    items_written,
    reads_check,
    unaudited_check,
    variation,
    writes_check,
)
from benchmarks.call_counter import DynamoDBCall
from benchmarks.customer_latency import fresh_entries

TABLES = Tables(data="data", audit="audit", control="control")
QUERY = DynamoDBCall("Query", ("data",), {"KeyConditionExpression": "pk = :pk"})
ENTRY = DynamoDBCall("PutItem", ("audit",), {"Item": {"pk": {"S": "T#ten_1#AUDIT"}}})
KEY_READ = DynamoDBCall("GetItem", ("control",), {"Key": {"pk": {"S": "APIKEY#abc"}}})


def _cost(*calls: DynamoDBCall) -> RequestCost:
    return RequestCost.of(calls, TABLES)


UNAUDITED = _cost(QUERY)
AUDITED = _cost(QUERY, ENTRY)


def test_a_requests_calls_are_sorted_by_table_and_by_read_or_write() -> None:
    # Given a cold-cache audited read
    cost = _cost(KEY_READ, QUERY, ENTRY)
    # Then each call lands in its table's reads or writes
    assert cost == RequestCost(
        data_reads=("Query",), audit_writes=("PutItem AUDIT",), control_reads=("GetItem APIKEY",)
    )
    assert cost.reads == ("Query", "GetItem APIKEY")
    assert cost.writes == ("PutItem AUDIT",)
    # and a table that is neither audit nor control counts as data
    other = DynamoDBCall("PutItem", ("idempotency",), {"Item": {"pk": {"S": "IDEMP#x"}}})
    assert _cost(other).data_writes == ("PutItem IDEMP",)


def test_what_auditing_adds_is_the_difference_of_the_two_requests() -> None:
    assert added(AUDITED, UNAUDITED) == ([], ["PutItem AUDIT"])
    assert added(_cost(QUERY, QUERY, ENTRY), UNAUDITED) == (["Query"], ["PutItem AUDIT"])
    assert added(UNAUDITED, AUDITED) == ([], [])
    assert describe(["PutItem AUDIT", "Query", "Query"]) == "PutItem AUDIT, 2 x Query"
    assert describe([]) == "none"


def test_one_entry_per_audited_request_passes_the_checks() -> None:
    # Given every audited request put one entry, and no unaudited one touched the table
    audited, unaudited = [AUDITED] * 4, [UNAUDITED] * 4
    # Then the write, read and baseline checks pass
    writes = writes_check("get", audited, unaudited)
    assert writes.passed, writes
    assert writes.measured == "PutItem AUDIT (all 4 requests; at most 1)"
    assert reads_check("get", audited, unaudited).passed
    assert unaudited_check("get", unaudited).passed


def test_a_second_write_a_missing_entry_or_an_added_read_is_missed() -> None:
    second_write = _cost(QUERY, ENTRY, ENTRY)
    missing = UNAUDITED
    data_write = _cost(QUERY, DynamoDBCall("PutItem", ("data",), {"Item": {}}))
    extra_read = _cost(QUERY, ENTRY, KEY_READ)
    baseline = [UNAUDITED] * 3
    # One request that writes two entries, writes none, or writes elsewhere fails the check
    for odd in (second_write, missing, data_write):
        check = writes_check("get", [AUDITED, AUDITED, odd], baseline)
        assert not check.passed, odd
        assert check.verdict == "MISS"
    assert "at most 2" in writes_check("get", [AUDITED, second_write], baseline).measured
    # A read that auditing adds fails the read check
    reads = reads_check("get", [AUDITED, extra_read], baseline)
    assert not reads.passed
    assert reads.measured == "GetItem APIKEY in 1 of 2 requests"
    # and no requests at all prove nothing
    assert not writes_check("get", [], baseline).passed
    assert not reads_check("get", [], baseline).passed


def test_an_unaudited_request_that_writes_an_entry_invalidates_the_baseline() -> None:
    check = unaudited_check("get", [UNAUDITED, AUDITED])
    assert not check.passed
    assert check.measured == "1 of 2 requests"


def test_variation_names_what_the_atypical_requests_made() -> None:
    assert variation([AUDITED, AUDITED]) == "all 2"
    assert variation([AUDITED, AUDITED, _cost(KEY_READ, QUERY, ENTRY)]) == (
        "2 of 3 (others: 1 x GetItem APIKEY, PutItem AUDIT, Query)"
    )


def test_batches_are_flattened_in_order() -> None:
    first, second = Sample(1.0, AUDITED), Sample(2.0, AUDITED)
    assert flattened([[first], [], [second, first]]) == [first, second, first]


def test_a_replayed_audit_entry_gets_a_new_id_each_time() -> None:
    # Given a recorded audit PutItem and a recorded data read
    item: dict[str, Any] = {
        "pk": {"S": "T#ten_1#AUDIT"},
        "sk": {"S": "E#2026-11-22T17:00:00.000000Z#aud_OLD"},
        "entry_id": {"S": "aud_OLD"},
    }
    entry = DynamoDBCall("PutItem", ("audit",), {"TableName": "audit", "Item": item})
    # When copies are made to replay
    copies = fresh_entries(entry, "audit", 3)
    reads = fresh_entries(QUERY, "audit", 2)
    # Then each entry copy has its own id, in its sort key too; other calls are unchanged
    ids = {copy["Item"]["entry_id"]["S"] for copy in copies}
    assert len(ids) == 3 and "aud_OLD" not in ids
    assert all(c["Item"]["sk"]["S"].endswith(c["Item"]["entry_id"]["S"]) for c in copies)
    assert reads == [QUERY.params, QUERY.params]


def test_items_written_count_a_transactions_and_a_batchs_items() -> None:
    transaction = {"TransactItems": [{"Put": {"TableName": "audit"}}] * 2}
    batch = {"RequestItems": {"audit": [{"PutRequest": {}}] * 25}}
    assert items_written(DynamoDBCall("TransactWriteItems", ("audit", "audit"), transaction)) == 2
    assert items_written(DynamoDBCall("BatchWriteItem", ("audit",), batch)) == 25
    assert items_written(ENTRY) == 1
    assert items_written(QUERY) == 0


def test_a_stream_batchs_calls_are_shown_per_entry() -> None:
    # Given a batch of four entries: one digest, and an alert window update for each
    head = DynamoDBCall("GetItem", ("audit",), {"Key": {"pk": {"S": "T#ten_1#AUDIT#DIGESTS"}}})
    put = {"Put": {"TableName": "audit", "Item": {"pk": {"S": "T#ten_1#AUDIT#DIGESTS"}}}}
    digest = DynamoDBCall("TransactWriteItems", ("audit", "audit"), {"TransactItems": [put] * 2})
    window = DynamoDBCall("UpdateItem", ("audit",), {"Key": {"pk": {"S": "T#ten_1#AUDIT#W#k"}}})
    batch = StreamBatch(4, [head, digest, window, window, window, window])
    # Then each kind of call is divided among the entries
    assert batch.per_entry(reads=True) == "0.25 x GetItem AUDIT"
    assert batch.per_entry(reads=False) == (
        "0.25 x TransactWriteItems (2 x Put AUDIT), 1.00 x UpdateItem AUDIT"
    )
    assert batch.items_per_entry() == 1.5


def test_an_insert_record_carries_the_new_item_and_its_keys() -> None:
    item = {"pk": {"S": "T#ten_1#AUDIT"}, "sk": {"S": "E#t#aud_1"}, "kind": {"S": "request"}}
    record = insert_record(item, 7, 1_700_000_000)
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["Keys"] == {"pk": item["pk"], "sk": item["sk"]}
    assert record["dynamodb"]["NewImage"] == item
    assert record["dynamodb"]["SequenceNumber"] == "000000000000000000007"
