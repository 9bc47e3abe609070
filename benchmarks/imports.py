"""Bulk import (issue 16): a generated CSV of customers imported end to end through the
import worker against DynamoDB Local, against raw BatchWriteItem of the same items in the
same run.

`python -m benchmarks.run imports [--rows N]` (default 100,000; 2,000 with --quick). The
import is created and its file stored by the service, then the worker's entry is called
with each checkpoint as the import queue's messages would call it, in process, until the
import completes. The baseline writes exactly the items the import stored (read back from
the data table: every item the run added or changed), deleted and then written back with
BatchWriteItem, 25 per call; the target is on the ratio of the two times. DynamoDB Local
is not DynamoDB, so the absolute figures show this machine only.
"""

from __future__ import annotations

import time
from collections import Counter

from benchmarks.batch_ingestion import _data_table_items, _rewrite_in_place, stored_by_the_run
from benchmarks.context import Context
from benchmarks.report import Check, Section, Table

MIN_THROUGHPUT_RATIO = 0.5
DEFAULT_ROWS = 100_000
QUICK_ROWS = 2_000
ACTOR = "key_benchmark"
MAPPING = {"Customer no": "external_id", "Name": "name", "E-mail": "email", "Tags": "tags"}


def customers_csv(rows: int) -> bytes:
    """`rows` new customers, each with an external id, a name, an email and one tag."""
    lines = ["Customer no,Name,E-mail,Tags"]
    lines += [f"b-{n:07d},Customer {n},customer{n}@example.com,tier{n % 5}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _describe(counts: Counter[str]) -> str:
    return ", ".join(f"{count:,} {name}" for name, count in sorted(counts.items()))


def _import(tenant: str, data: bytes) -> tuple[float, str]:
    """Seconds from the import's creation to its completion, and its id."""
    from chalicelib.dal import imports as repository
    from chalicelib.domain.imports import (
        ACTIVE_STATUSES,
        ImportFormat,
        ImportKind,
        ImportSpec,
        UpsertKey,
    )
    from chalicelib.domain.tenancy import tenant_id
    from chalicelib.services import imports

    owner = tenant_id(tenant)
    spec = ImportSpec(ImportKind.CUSTOMERS, ImportFormat.CSV, UpsertKey.EXTERNAL_ID, MAPPING)
    started = time.perf_counter()
    job = imports.create_import(owner, spec, ACTOR, "admin").job
    imports.upload_file(owner, job.id, data)
    while True:
        current = repository.get_import(owner, job.id)
        if current is None or current.status not in ACTIVE_STATUSES:
            break
        imports.process_chunk_as_creator(owner, job.id, current.checkpoint)
    return time.perf_counter() - started, job.id


def run(context: Context) -> Section:
    from chalicelib.dal.customers import customer_count
    from chalicelib.domain.tenancy import tenant_id
    from chalicelib.services import imports

    stack = context.stack()
    rows = context.rows or context.repeat(DEFAULT_ROWS, QUICK_ROWS)
    count_before = customer_count(tenant_id(stack.tenant_id))
    data = customers_csv(rows)
    before = _data_table_items()

    context.progress(f"importing {rows:,} customers ({len(data):,} bytes of CSV)")
    with stack.calls.recording() as calls:
        import_seconds, import_id = _import(stack.tenant_id, data)
    job = imports.get_import(tenant_id(stack.tenant_id), import_id)
    stored = stored_by_the_run(before, _data_table_items())
    profiles = sum(1 for item in stored if item["sk"]["S"] == "PROFILE")
    counted = customer_count(tenant_id(stack.tenant_id)) - count_before

    context.progress(f"raw BatchWriteItem of the {len(stored):,} items the import stored")
    raw_seconds = _rewrite_in_place(stored)

    ratio = raw_seconds / import_seconds
    by_operation = Counter(call.operation for call in calls)
    progress = job.progress
    stored_right = (
        job.status.value == "completed"
        and (progress.rows_done, progress.created, progress.failed) == (rows, rows, 0)
        and profiles == rows
        and counted == rows
    )
    return Section(
        title="Bulk import (issue 16)",
        method=(
            f"A generated CSV of {rows:,} new customers (external id, name, email, one tag "
            "each) imported through the service in process on the harness's DynamoDB Local: "
            "the import created and its file stored (`create_import`, `upload_file`), then "
            "the worker's entry (`process_chunk_as_creator`) called with each checkpoint, as "
            "the import queue's messages call it, until the import completed; timed from "
            "creation to completion, every DynamoDB call counted. The baseline is raw "
            "BatchWriteItem (25 per call) of exactly the items the import stored: the data "
            "table is read before and after the import (Scans, untimed), every item it added "
            "or changed is kept as it ended up, and those items are deleted (untimed) and "
            "written back into the data table, in the same run. The target bounds the ratio "
            "of the throughputs (import / raw), that is raw seconds over import seconds."
        ),
        tables=[
            Table(
                (
                    "path",
                    "customers",
                    "items written",
                    "seconds",
                    "rows/s",
                    "DynamoDB calls",
                    "ratio (raw s / import s)",
                ),
                [
                    (
                        "import worker, chunk by chunk (grouped writes)",
                        f"{rows:,}",
                        f"{len(stored):,}",
                        f"{import_seconds:.1f}",
                        f"{rows / import_seconds:,.0f}",
                        f"{len(calls):,}: {_describe(by_operation)}",
                        f"{ratio:.2f}x",
                    ),
                    (
                        "raw BatchWriteItem of the same items (25 per call)",
                        f"{rows:,}",
                        f"{len(stored):,}",
                        f"{raw_seconds:.1f}",
                        f"{rows / raw_seconds:,.0f}",
                        f"{(len(stored) + 24) // 25:,} BatchWriteItem",
                        "1.00x",
                    ),
                ],
            )
        ],
        checks=[
            Check(
                "import throughput against raw BatchWriteItem of the same items",
                f"{ratio:.2f}x at {rows:,} rows",
                f"≥ {MIN_THROUGHPUT_RATIO:.2f}x",
                ratio >= MIN_THROUGHPUT_RATIO,
            ),
            Check(
                "every row stored and counted once",
                f"{progress.created:,} created, {profiles:,} profiles, count +{counted:,}",
                f"{rows:,} each, 0 failed",
                stored_right,
            ),
        ],
        notes=[
            "Per chunk of 500 rows the worker reads the import and its tenant, the claims "
            "of the chunk's keys (BatchGetItem, 100 a call) and the profiles they name, then "
            "commits the new customers several to a TransactWriteItems of up to 100 actions "
            "(profile, unique claims conditioned `attribute_not_exists`, tag listings, one "
            "count update per transaction), the transactions on 4 threads, and moves the "
            "checkpoint; the raw baseline writes the same items unchecked and outside any "
            "transaction.",
        ],
    )
