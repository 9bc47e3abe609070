"""Campaign launch benchmark (issue 15), against DynamoDB Local.

    python -m benchmarks.run campaigns [--quick]    # or with everything: make bench

What it measures: a campaign launched to a segment of N members (profiles and membership
items seeded directly). The launch is fanned out: the campaign job's own function
(`run_campaign`) walks the membership pages and queues one `campaign-sends` message per
page (moto's in-process SQS, as `make run` uses); measured are its time within one
invocation's budget (the job's 60 s timeout minus the 10 s safety margin) and its DynamoDB
calls by operation (membership Queries against the membership pages, no Scan). Then a
sample of the queued pages is sent by the queue's own record handler, on concurrent
worker threads as Lambda would run concurrent invocations, for the workers' throughput
and calls per member, from which the send time for all N members is extrapolated.

DynamoDB Local on a shared 2-core machine is far slower per write than DynamoDB; the call
counts carry over, the times do not.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from benchmarks.context import Context
from benchmarks.report import Check, Section, Table
from chalicelib.queues_config import CAMPAIGN_SEND_QUEUE

SEGMENT = "seg_BENCHCAMPAIGNS"
TARGET_MEMBERS = 50_000
JOB_BUDGET_SECONDS = 50.0  # the job functions' 60 s timeout minus jobs._SAFETY_MARGIN_MS
WORKERS = 4


def _seed(tenant: Any, members: int) -> None:
    """Profiles (with email consent) and segment membership items, by BatchWriteItem."""
    from chalicelib.dal import keys
    from chalicelib.dal.connection import bound_settings
    from chalicelib.dal.models import CustomerItem, SegmentMemberItem

    bound_settings()
    now = datetime.now(UTC)
    with CustomerItem.batch_write() as profiles, SegmentMemberItem.batch_write() as listing:
        for n in range(members):
            customer = f"cus_BENCH{n:021d}"
            profiles.save(
                CustomerItem(
                    pk=keys.customer_pk(tenant, customer),
                    sk=keys.PROFILE_SK,
                    gsi1pk=keys.customers_by_created_pk(tenant),
                    gsi1sk=keys.created_sort_key(now.isoformat(), customer),
                    tenant_id=tenant,
                    customer_id=customer,
                    name=f"Member {n}",
                    consent={"email_marketing": True},
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
            listing.save(
                SegmentMemberItem(
                    pk=keys.segment_members_pk(
                        tenant, SEGMENT, keys.shard_of(customer, keys.SEGMENT_SHARDS)
                    ),
                    sk=customer,
                    tenant_id=tenant,
                    segment_id=SEGMENT,
                    customer_id=customer,
                    joined_at=now,
                )
            )


def _tenant_publishing_events() -> Any:
    """A new tenant with a webhook, so every send also writes its outbox event (nothing
    delivers it here: no stream runner)."""
    from chalicelib.domain.tenancy import Plan
    from chalicelib.domain.tenant_config import TenantConfig
    from chalicelib.services import tenant_config, tenants

    tenant = tenants.create_tenant("Campaign bench", Plan.ENTERPRISE)[0].id
    config = TenantConfig.model_validate(
        {"webhook_url": "http://127.0.0.1:9/hooks", "webhook_secret": "x" * 24}
    )
    tenant_config.replace_config(tenant, config, 0)
    return tenant


def _launch(tenant: Any) -> Any:
    from chalicelib.domain import campaigns as rules
    from chalicelib.services import campaigns

    draft = campaigns.CampaignDraft(
        name="Bench",
        audience=rules.Audience(segment_id=SEGMENT),
        channel=rules.Channel.EMAIL,
        template="Hi {{first_name}}",
        schedule=rules.Schedule(rules.ScheduleKind.NOW),
        holdout_percent=10,
    )
    created = campaigns.create_campaign(tenant, draft)
    return campaigns.launch_campaign(tenant, created.id)


def _membership_query(params: dict[str, Any]) -> bool:
    values = params.get("ExpressionAttributeValues", {})
    return any("#SEG#" in str(value.get("S", "")) for value in values.values())


def _read_membership_alone(tenant: Any) -> float:
    """The baseline, in the same run: every membership page of the segment read (the
    launch's reads alone), nothing queued and nothing written."""
    from chalicelib.dal.segments import list_members
    from chalicelib.domain.paging import PageRequest
    from chalicelib.services.campaigns import RECIPIENTS_PER_PAGE

    started = time.perf_counter()
    cursor = None
    while True:
        page = list_members(tenant, SEGMENT, PageRequest(RECIPIENTS_PER_PAGE, cursor))
        cursor = page.next_cursor
        if cursor is None:
            return time.perf_counter() - started


def _with_send_queue(stack: Any) -> Any:
    """moto's in-process SQS (DynamoDB still DynamoDB Local) with the app's queues, their
    URLs in the environment; the models rebound to the new settings."""
    import os

    from devtools.run_local import local_sqs
    from devtools.stream_runner import local_queues

    sqs = local_sqs()
    for name, value in local_queues(sqs).items():
        os.environ[name] = value
    stack.rebind()
    return sqs


def _received_pages(sqs: Any, pages: int) -> list[dict[str, Any]]:
    """Up to `pages` page messages, as Lambda-shaped SQS records."""
    import os

    url = os.environ[CAMPAIGN_SEND_QUEUE.queue_url_variable]
    records: list[dict[str, Any]] = []
    while len(records) < pages:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, pages - len(records)),
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        records.extend(
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:campaign-sends",
                "awsRegion": "us-east-1",
            }
            for m in messages
        )
    return records


def _send_sample(records: list[dict[str, Any]]) -> tuple[float, int]:
    """The sample's pages sent by the queue's record handler, a batch of the consumer's
    size per invocation, WORKERS invocations at a time; (seconds, pages failed)."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.dal.attribution import system_writer, writing_as
    from chalicelib.streams.campaign_sends import (
        CampaignSendBatch,
        _service_give_up,
        _service_send,
        process_batch,
    )

    size = CAMPAIGN_SEND_QUEUE.batch_size
    batches = [records[i : i + size] for i in range(0, len(records), size)]

    def invoke(batch: list[dict[str, Any]]) -> int:
        with writing_as(system_writer("send_campaign_pages", None)):
            answer = process_batch(
                {"Records": batch}, None, CampaignSendBatch(_service_send, _service_give_up)
            )
        return len(answer["batchItemFailures"])

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        failed = sum(pool.map(invoke, batches))
    return time.perf_counter() - started, failed


def run(context: Context) -> Section:
    """Launch to N members: the job's queueing (time, calls), the workers' throughput."""
    from chalicelib.services.campaigns import RECIPIENTS_PER_PAGE, RunReport, run_campaign
    from chalicelib.streams.campaign_sends import queue_pages

    members = context.repeat(TARGET_MEMBERS, 1_000)
    sample_pages = context.repeat(20, 4)
    stack = context.stack()
    sqs = _with_send_queue(stack)
    tenant = _tenant_publishing_events()
    context.progress(f"seeding {members:,} members")
    seeding = time.perf_counter()
    _seed(tenant, members)
    seeding = time.perf_counter() - seeding
    campaign = _launch(tenant)
    context.progress("the campaign job queues the pages")
    report = RunReport()
    with stack.calls.recording() as calls:
        started = time.perf_counter()
        campaign = run_campaign(
            tenant,
            campaign,
            datetime.now(UTC),
            time.monotonic() + JOB_BUDGET_SECONDS,
            report,
            queue_pages,
        )
        queueing = time.perf_counter() - started
    assert campaign.progress is not None
    queued_all = campaign.progress.queued_all
    baseline = _read_membership_alone(tenant)
    operations = Counter(call.operation for call in calls)
    membership = sum(1 for c in calls if c.operation == "Query" and _membership_query(c.params))
    pages = math.ceil(members / RECIPIENTS_PER_PAGE)
    context.progress(f"workers send {sample_pages} pages")
    records = _received_pages(sqs, sample_pages)
    sampled = sum(len(json.loads(r["body"])["customer_ids"]) for r in records)
    with stack.calls.recording() as worker_calls:
        sending, failed = _send_sample(records)
    worker_operations = Counter(call.operation for call in worker_calls)
    rate = sampled / sending
    projected_sends = members / rate
    concurrent = min(WORKERS, math.ceil(len(records) / CAMPAIGN_SEND_QUEUE.batch_size))
    per_page = sending * concurrent / len(records)
    return Section(
        title="Campaign launch",
        method=(
            f"A campaign (10 % holdout, email, every member consenting) to a segment of "
            f"{members:,} members seeded directly (profiles and membership items, "
            f"{seeding:.0f} s), on the harness's DynamoDB Local with moto's in-process SQS. "
            "The launch: one call of the job's `run_campaign` with an invocation's budget of "
            f"{JOB_BUDGET_SECONDS:.0f} s (the job's 60 s timeout minus its 10 s margin), which "
            "walks the membership pages and queues one message per page (SendMessageBatch, "
            "10 a call), saving the cursor every 10 pages. The sends: the first "
            f"{len(records)} queued pages ({sampled:,} members) handled by the queue's record "
            f"handler in batches of {CAMPAIGN_SEND_QUEUE.batch_size}, {WORKERS} invocations at "
            "a time (threads; each page's members on 16 threads), the tenant with a webhook so "
            "each send also writes its outbox event (not delivered here). Calls counted at "
            "botocore. Baseline in the same run: the membership pages read alone."
        ),
        tables=[
            Table(
                ["measure", "value"],
                [
                    ["members", f"{members:,}"],
                    ["membership pages (100 members)", f"{pages:,}"],
                    ["job: pages queued", f"{report.pages:,} ({report.recipients:,} members)"],
                    ["job: membership Queries", f"{membership:,}"],
                    ["job: Scan calls", str(operations.get("Scan", 0))],
                    ["job: DynamoDB calls by operation", _listed(operations)],
                    [
                        "job: time to queue every page (one invocation)",
                        f"{queueing:.1f} s; all queued: {'yes' if queued_all else 'no'}",
                    ],
                    [
                        "baseline: reading the membership pages alone (same run)",
                        f"{baseline:.1f} s; queueing / baseline {queueing / baseline:.2f}x",
                    ],
                    [
                        f"workers: {len(records)} pages, {concurrent} concurrent invocations",
                        f"{sending:.1f} s ({rate:.0f} members/s, {per_page:.1f} s per page "
                        f"per invocation), {failed} page(s) failed",
                    ],
                    [
                        "workers: DynamoDB calls by operation",
                        f"{_listed(worker_operations)} for {sampled:,} members",
                    ],
                    [
                        f"workers: all {members:,} members at this rate (extrapolated)",
                        f"{projected_sends:,.0f} s",
                    ],
                ],
            )
        ],
        checks=[
            Check(
                "the launch reads no more than the membership pages (one Query per shard a "
                "page touches)",
                f"{membership} membership Queries for {pages} pages, "
                f"{operations.get('Scan', 0)} Scan",
                "≤ pages + 16 shard boundaries, no Scan",
                membership <= pages + 16 and operations.get("Scan", 0) == 0,
            ),
            Check(
                f"{members:,} members are queued within one scheduled run",
                f"{queueing:.1f} s, all queued: {'yes' if queued_all else 'no'}",
                f"≤ {JOB_BUDGET_SECONDS:.0f} s, all queued",
                queued_all and queueing <= JOB_BUDGET_SECONDS,
            ),
        ],
    )


def _listed(operations: Counter[str]) -> str:
    return ", ".join(f"{count:,} {name}" for name, count in sorted(operations.items()))
