"""Batch ingestion (issues 4 and 14): `record_batch` against raw BatchWriteItem of the same
items, in the same run, on the harness's DynamoDB Local.

`python -m benchmarks.run batch_ingestion [--quick]`: 10,000 interactions (100 batches of
100, half purchases with points, half app events, over 500 customers). The baseline writes
exactly the items the service stored for the run (read back from the data table: every item
the run added or changed), deleted and then written back with BatchWriteItem; the target is
on the ratio of the two times. The interaction items alone, written raw, stay as a second
figure (the method before issue 14's measurement was corrected). DynamoDB Local is not
DynamoDB, so the absolute figures show this machine only.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.context import Context
from benchmarks.loyalty import (
    ACTOR,
    _describe,
    _install_counter,
    _new_customer,
    _purchase,
    counting,
)
from benchmarks.report import Check, Section, Table

MIN_THROUGHPUT_RATIO = 0.5
BATCH_SIZE = 100


def _items(tenant: Any, context: Context) -> list[Any]:
    from chalicelib.domain.interactions import BatchItem, InteractionDraft, InteractionType

    total = context.repeat(10_000, 1_000)
    customers = [_new_customer(tenant, f"Batch {n}") for n in range(context.repeat(500, 100))]
    items = []
    for n in range(total):
        who = customers[n % len(customers)]
        if n % 2:
            draft = _purchase(10 + n % 90, f"batch-{n}")
        else:
            draft = InteractionDraft(type=InteractionType.APP_EVENT, details={"name": "opened"})
        items.append(BatchItem(draft=draft, customer_id=who))
    return items


def _raw_items(tenant: Any, items: list[Any]) -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    from chalicelib.dal.loyalty import _interaction_item
    from chalicelib.domain.ids import new_interaction_id
    from chalicelib.domain.interactions import Interaction

    now = datetime.now(UTC)
    return [
        _interaction_item(
            tenant,
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
            ),
        ).serialize()
        for item in items
    ]


def _raw_client() -> Any:
    import boto3

    from chalicelib.settings import get_settings

    settings = get_settings()
    return boto3.client(
        "dynamodb", endpoint_url=settings.dynamodb_endpoint, region_name=settings.aws_region
    )


def _write_raw(raw: list[dict[str, Any]], table_name: str | None = None) -> float:
    """Seconds to write `raw` with BatchWriteItem, 25 per call, unprocessed items resent;
    into the data table unless `table_name` names another."""
    from chalicelib.settings import get_settings

    table_name = table_name or get_settings().data_table
    client = _raw_client()
    started = time.perf_counter()
    for offset in range(0, len(raw), 25):
        requests = [{"PutRequest": {"Item": item}} for item in raw[offset : offset + 25]]
        pending: dict[str, Any] = {table_name: requests}
        while pending:
            answer = client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
    return time.perf_counter() - started


def _data_table_items() -> dict[tuple[str, str], dict[str, Any]]:
    """Every item of the data table by its keys (a Scan: a benchmark's bookkeeping, off the
    measured path)."""
    from chalicelib.settings import get_settings

    paginator = _raw_client().get_paginator("scan")
    items = {}
    for page in paginator.paginate(TableName=get_settings().data_table, ConsistentRead=True):
        for item in page["Items"]:
            items[(item["pk"]["S"], item["sk"]["S"])] = item
    return items


def stored_by_the_run(
    before: dict[tuple[str, str], dict[str, Any]], after: dict[tuple[str, str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """The items a run stored: those added, or changed, between two snapshots (as after)."""
    return [item for key, item in after.items() if before.get(key) != item]


def _rewrite_in_place(items: list[dict[str, Any]]) -> float:
    """Seconds to write `items` back into the data table with BatchWriteItem after deleting
    them (untimed, also with BatchWriteItem): the same items, inserted into the same table
    as the service inserted them. (A table created for the purpose is no fair baseline on
    DynamoDB Local: writes into it ran about five times slower.)"""
    from chalicelib.settings import get_settings

    table_name = get_settings().data_table
    client = _raw_client()
    for offset in range(0, len(items), 25):
        deletes = [
            {"DeleteRequest": {"Key": {"pk": item["pk"], "sk": item["sk"]}}}
            for item in items[offset : offset + 25]
        ]
        pending: dict[str, Any] = {table_name: deletes}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return _write_raw(items, table_name)


def run(context: Context) -> Section:
    from chalicelib.domain.tenancy import tenant_id
    from chalicelib.services import loyalty

    stack = context.stack()
    tenant = tenant_id(stack.tenant_id)
    _install_counter()
    items = _items(tenant, context)
    total = len(items)
    before = _data_table_items()

    context.progress(f"ingesting {total:,} interactions in batches of {BATCH_SIZE}")
    with counting() as seen:
        started = time.perf_counter()
        for offset in range(0, total, BATCH_SIZE):
            batch = items[offset : offset + BATCH_SIZE]
            result = loyalty.record_batch(tenant, batch, ACTOR, None, max_items=BATCH_SIZE)
            if result.failed:
                raise RuntimeError(f"a batch item failed: {result.items}")
        service_seconds = time.perf_counter() - started

    stored = stored_by_the_run(before, _data_table_items())
    context.progress(f"raw BatchWriteItem of the {len(stored):,} items the service stored")
    same_items_seconds = _rewrite_in_place(stored)
    context.progress(f"raw BatchWriteItem of {total:,} interaction items")
    interactions_seconds = _write_raw(_raw_items(tenant, items))

    ratio = same_items_seconds / service_seconds
    interactions_ratio = interactions_seconds / service_seconds
    return Section(
        title="Batch ingestion",
        method=(
            f"`record_batch` in process on the harness's DynamoDB Local, {total:,} "
            f"interactions in batches of {BATCH_SIZE} (half purchases with points, half app "
            "events, customers in turn). The baseline is raw BatchWriteItem (25 per call) of "
            "exactly the items the service stored: the data table is read before and after "
            "the run (Scans, untimed), every item the run added or changed is kept as it "
            f"ended up ({len(stored):,} items, {len(stored) / total:.2f} per interaction), and "
            "those items are deleted (untimed) and written back into the data table, in the "
            "same run (a table created for the purpose wrote about five times slower on "
            "DynamoDB Local, so it would flatter the service). The target bounds the ratio "
            "of the throughputs (service / raw), that is raw seconds over service seconds. "
            "For continuity with the earlier figures, the interaction items alone written "
            "raw into the data table are a second row "
            "(no target)."
        ),
        tables=[
            Table(
                (
                    "path",
                    "interactions",
                    "items written",
                    "seconds",
                    "interactions/s",
                    "DynamoDB calls",
                    "ratio (raw s / service s)",
                ),
                [
                    (
                        f"`record_batch`, {BATCH_SIZE} per batch",
                        f"{total:,}",
                        f"{len(stored):,}",
                        f"{service_seconds:.1f}",
                        f"{total / service_seconds:,.0f}",
                        f"{sum(seen.values()):,}: {_describe(seen)}",
                        "",
                    ),
                    (
                        "raw BatchWriteItem of the same items the service stored (25 per call)",
                        f"{total:,}",
                        f"{len(stored):,}",
                        f"{same_items_seconds:.1f}",
                        f"{total / same_items_seconds:,.0f}",
                        f"{(len(stored) + 24) // 25:,}",
                        f"{ratio:.2f}x",
                    ),
                    (
                        "raw BatchWriteItem of the interaction items alone (25 per call)",
                        f"{total:,}",
                        f"{total:,}",
                        f"{interactions_seconds:.1f}",
                        f"{total / interactions_seconds:,.0f}",
                        f"{(total + 24) // 25:,}",
                        f"{interactions_ratio:.2f}x",
                    ),
                ],
            )
        ],
        checks=[
            Check(
                "batch ingestion throughput against raw BatchWriteItem of the same items",
                f"{ratio:.2f}x",
                f"≥ {MIN_THROUGHPUT_RATIO:.2f}x",
                ratio >= MIN_THROUGHPUT_RATIO,
            )
        ],
        notes=[
            "A batch reads its customers and their points accounts ahead (BatchGetItem), "
            "writes the items that move no points together (BatchWriteItem) and commits the "
            "purchases of distinct customers together (TransactWriteItems of up to 100 "
            "actions: interaction, account, ledger entry, order claim, and a lot marker when "
            "the purchase opens a lot), each under its conditions; the raw baseline writes "
            "the same items unchecked and outside any transaction.",
            f"Interaction items alone, written raw: {interactions_ratio:.2f}x "
            "(the figure reported before issue 14's baseline was corrected; no target).",
        ],
    )
