"""Customer merge (issue 16): two customers with 5,000 ledger entries each merged through
`POST /v1/customers/{id}/merge` against DynamoDB Local, against a baseline measured in the
same run: the same items copied and deleted with raw BatchWriteItem (no conditions, no
transaction, no log), the least a move of those items costs."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.context import Context
from benchmarks.local_stack import LocalStack
from benchmarks.report import Check, Section, Table

BATCH = 25


def _seed(stack: LocalStack, label: str, entries: int) -> str:
    """A customer with `entries` earn entries of 1 point and an account that matches."""
    from chalicelib.dal import keys
    from chalicelib.dal.loyalty import points_item
    from chalicelib.dal.models import LedgerItem
    from chalicelib.domain.loyalty import PointsAccount
    from chalicelib.domain.tenancy import tenant_id

    tenant = tenant_id(stack.tenant_id)
    customer = str(stack.request("POST", "/v1/customers", {"name": label}, expect=201).body["id"])
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with LedgerItem.batch_write() as batch:
        for version in range(1, entries + 1):
            batch.save(
                LedgerItem(
                    pk=keys.customer_pk(tenant, customer),
                    sk=keys.ledger_sk(version, 0),
                    tenant_id=tenant,
                    customer_id=customer,
                    type="earn",
                    points=1,
                    balance_after=version,
                    at=at + timedelta(seconds=version),
                    actor="bench",
                )
            )
    expiry = date.today() + timedelta(days=300)
    account = PointsAccount(
        lots={expiry: entries}, lifetime_earned=entries, tier="member", version=entries
    )
    # put as is: the account's version must be that of its last ledger entry
    stored = points_item(tenant, customer, account).serialize()
    stack.dynamodb.put_item(TableName=stack.environment["DATA_TABLE"], Item=stored)
    return customer


def _balance(stack: LocalStack, customer: str) -> int:
    return int(stack.request("GET", f"/v1/customers/{customer}/points").body["balance"])


def _merge(stack: LocalStack, survivor: str, source: str) -> tuple[float, float, list[Any]]:
    """The request's answer time, the time until the merge is done (its continuations run
    in-process one after another, as the merge queue's consumer receives them), and the
    DynamoDB calls of both."""
    from chalicelib.domain.merge import MergeRecord, MergeState
    from chalicelib.domain.tenancy import TenantId, tenant_id
    from chalicelib.services import merge as merge_service
    from chalicelib.streams import merge_queue

    queued: list[MergeRecord] = []

    def enqueue(_tenant: TenantId, record: MergeRecord) -> None:
        queued.append(record)

    merge_queue.send_continuation = enqueue  # type: ignore[assignment]

    etag = stack.client.http.request(
        "GET",
        f"/v1/customers/{survivor}",
        headers={"Authorization": f"Bearer {stack.tenant_key}"},
    ).headers["ETag"]
    headers = {
        "Authorization": f"Bearer {stack.tenant_key}",
        "Content-Type": "application/json",
        "If-Match": etag,
    }
    body = f'{{"from": ["{source}"]}}'.encode()
    with stack.calls.recording() as calls:
        started = time.perf_counter()
        response = stack.client.http.request(
            "POST", f"/v1/customers/{survivor}/merge", headers=headers, body=body
        )
        answered = time.perf_counter() - started
        if response.status_code not in (200, 202):
            raise RuntimeError(f"the merge answered {response.status_code}: {response.body!r}")
        tenant = tenant_id(stack.tenant_id)
        while queued:
            record = queued.pop()
            done = merge_service.continue_merge(tenant, record.survivor_id, record.id, enqueue)
            if done is not None and done.state is MergeState.DONE:
                break
        completed = time.perf_counter() - started
    return answered, completed, calls


def _raw_move(stack: LocalStack, survivor: str, source: str) -> tuple[float, Counter[str]]:
    """Query the source's partition and copy + delete every item with BatchWriteItem."""
    from chalicelib.dal import keys
    from chalicelib.domain.tenancy import tenant_id

    tenant = tenant_id(stack.tenant_id)
    table = stack.environment["DATA_TABLE"]
    source_pk = keys.customer_pk(tenant, source)
    survivor_pk = keys.customer_pk(tenant, survivor)
    calls: Counter[str] = Counter()
    started = time.perf_counter()
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :ledger)",
        "ExpressionAttributeValues": {":pk": {"S": source_pk}, ":ledger": {"S": "LEDGER#"}},
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    while True:
        answer = stack.dynamodb.query(**request)
        calls["Query"] += 1
        items += answer.get("Items", [])
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    writes = [
        {
            "PutRequest": {
                "Item": {
                    **item,
                    "pk": {"S": survivor_pk},
                    "sk": {"S": item["sk"]["S"] + "#" + source},
                }
            }
        }
        for item in items
    ] + [{"DeleteRequest": {"Key": {"pk": item["pk"], "sk": item["sk"]}}} for item in items]
    for start in range(0, len(writes), BATCH):
        pending: dict[str, Any] = {table: writes[start : start + BATCH]}
        while pending:
            answer = stack.dynamodb.batch_write_item(RequestItems=pending)
            calls["BatchWriteItem"] += 1
            pending = answer.get("UnprocessedItems") or {}
    return time.perf_counter() - started, calls


def _describe(counts: Counter[str]) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))


def run(context: Context) -> Section:
    stack = context.stack()
    entries = context.repeat(5_000, 300)
    context.progress(f"seeding two pairs of customers with {entries} ledger entries each")
    survivor, source = _seed(stack, "Survivor", entries), _seed(stack, "Source", entries)
    raw_survivor, raw_source = (
        _seed(stack, "Raw survivor", entries),
        _seed(stack, "Raw source", entries),
    )
    context.progress("merging through the API")
    answer_seconds, merge_seconds, merge_calls = _merge(stack, survivor, source)
    context.progress("moving the same items with raw BatchWriteItem")
    raw_seconds, raw_calls = _raw_move(stack, raw_survivor, raw_source)
    merged_balance = _balance(stack, survivor)
    merge_counts = Counter(call.operation for call in merge_calls)
    ratio = merge_seconds / raw_seconds if raw_seconds else float("inf")
    table = Table(
        ("move of one customer's items", "items", "seconds", "items/s", "DynamoDB calls"),
        [
            (
                "merge: the request's answer (202, the rest continues on the queue)",
                str(entries),
                f"{answer_seconds:.1f}",
                "",
                "",
            ),
            (
                "merge: request and continuations until done",
                str(entries),
                f"{merge_seconds:.1f}",
                f"{entries / merge_seconds:.0f}",
                f"{sum(merge_counts.values())}: {_describe(merge_counts)}",
            ),
            (
                "baseline: Query + BatchWriteItem copy and delete",
                str(entries),
                f"{raw_seconds:.1f}",
                f"{entries / raw_seconds:.0f}",
                f"{sum(raw_calls.values())}: {_describe(raw_calls)}",
            ),
        ],
        caption=(
            f"Merge completion / baseline time: {ratio:.1f}x; request answer / baseline "
            f"time: {answer_seconds / raw_seconds if raw_seconds else float('inf'):.1f}x "
            "(same run)."
        ),
    )
    return Section(
        title="Customer merge (issue 16)",
        method=(
            f"Two customers with {entries} ledger entries each (written directly, with a "
            "matching points account); the source merged into the survivor through the "
            "in-process API on DynamoDB Local, timed from request to answer and until done, "
            "every DynamoDB call counted. Baseline in the same run: another pair with the "
            "same items, the source's entries read with Query and copied and deleted with "
            "BatchWriteItem (25 requests per call), without conditions, transaction or log."
        ),
        tables=[table],
        checks=[
            Check(
                "points conserved by the merge",
                str(merged_balance),
                str(2 * entries),
                merged_balance == 2 * entries,
            )
        ],
        notes=[
            "Every step is two TransactWriteItems: one naming the merge as the deleting "
            "writer of the step's audited items (ledger entries are), then one of 48 "
            "copies, 48 deletes, the step log and the record. The request runs steps for "
            "about 10 s (MERGE_REQUEST_BUDGET_SECONDS) and answers 202; the rest runs in "
            "continuations of up to 120 s each (CONTINUATION_BUDGET), here in-process one "
            "after another "
            "(the benchmark records the continuation messages instead of sending them)."
        ],
    )
