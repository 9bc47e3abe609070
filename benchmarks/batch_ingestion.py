"""Batch ingestion (issues 4 and 14): `record_batch` against raw BatchWriteItem of the same
interaction items, in the same run, on the harness's DynamoDB Local.

`python -m benchmarks.run batch_ingestion [--quick]`: 10,000 interactions (100 batches of
100, half purchases with points, half app events, over 500 customers). The target is on
the ratio of the two throughputs; DynamoDB Local is not DynamoDB, so the absolute figures
show this machine only.
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


def _write_raw(raw: list[dict[str, Any]]) -> float:
    """Seconds to write `raw` with BatchWriteItem, 25 per call, unprocessed items resent."""
    import boto3

    from chalicelib.settings import get_settings

    settings = get_settings()
    client = boto3.client(
        "dynamodb", endpoint_url=settings.dynamodb_endpoint, region_name=settings.aws_region
    )
    started = time.perf_counter()
    for offset in range(0, len(raw), 25):
        requests = [{"PutRequest": {"Item": item}} for item in raw[offset : offset + 25]]
        pending: dict[str, Any] = {settings.data_table: requests}
        while pending:
            answer = client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
    return time.perf_counter() - started


def run(context: Context) -> Section:
    from chalicelib.domain.tenancy import tenant_id
    from chalicelib.services import loyalty

    stack = context.stack()
    tenant = tenant_id(stack.tenant_id)
    _install_counter()
    items = _items(tenant, context)
    total = len(items)

    context.progress(f"ingesting {total:,} interactions in batches of {BATCH_SIZE}")
    with counting() as seen:
        started = time.perf_counter()
        for offset in range(0, total, BATCH_SIZE):
            batch = items[offset : offset + BATCH_SIZE]
            result = loyalty.record_batch(tenant, batch, ACTOR, None, max_items=BATCH_SIZE)
            if result.failed:
                raise RuntimeError(f"a batch item failed: {result.items}")
        service_seconds = time.perf_counter() - started

    context.progress(f"raw BatchWriteItem of {total:,} interaction items")
    raw_seconds = _write_raw(_raw_items(tenant, items))

    ratio = raw_seconds / service_seconds
    return Section(
        title="Batch ingestion",
        method=(
            f"`record_batch` in process on the harness's DynamoDB Local, {total:,} "
            f"interactions in batches of {BATCH_SIZE} (half purchases with points, half app "
            "events, customers in turn), then the same interaction items written raw with "
            "BatchWriteItem, in the same run. The target bounds the ratio of the throughputs "
            "(service / raw)."
        ),
        tables=[
            Table(
                ("path", "interactions", "seconds", "interactions/s", "DynamoDB calls"),
                [
                    (
                        f"`record_batch`, {BATCH_SIZE} per batch",
                        f"{total:,}",
                        f"{service_seconds:.1f}",
                        f"{total / service_seconds:,.0f}",
                        f"{sum(seen.values()):,}: {_describe(seen)}",
                    ),
                    (
                        "raw BatchWriteItem of the same interaction items (25 per call)",
                        f"{total:,}",
                        f"{raw_seconds:.1f}",
                        f"{total / raw_seconds:,.0f}",
                        f"{(total + 24) // 25:,}",
                    ),
                ],
            )
        ],
        checks=[
            Check(
                "batch ingestion throughput against raw BatchWriteItem",
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
            "the purchase opens a lot); the raw path writes the interaction items alone, "
            "unchecked: about two fifths of the items the service writes, and no transaction."
        ],
    )
