"""Campaign launch benchmark (issue 15), against DynamoDB Local.

    python -m benchmarks.run campaigns [--quick]    # or with everything: make bench

What it measures: a campaign launched to a segment of N members (profiles and membership
items seeded directly), run by the campaign job's own function (`run_campaign`) in
invocations of the deployed job's budget (60 s timeout minus the 10 s safety margin):
the DynamoDB calls it makes by operation (membership Queries against the membership
pages, no Scan), the invocations it needs, and its throughput, from which the time for
50,000 members is extrapolated when N is smaller.

DynamoDB Local on a shared 2-core machine is far slower per write than DynamoDB; the call
counts carry over, the times do not.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from benchmarks.context import Context
from benchmarks.report import Check, Section, Table

SEGMENT = "seg_BENCHCAMPAIGNS"
TARGET_MEMBERS = 50_000
JOB_BUDGET_SECONDS = 50.0  # the job functions' 60 s timeout minus jobs._SAFETY_MARGIN_MS


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
    launch's reads alone), no profile read and no write."""
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


def run(context: Context) -> Section:
    """Launch to N members: calls by operation, invocations, throughput."""
    from chalicelib.domain.campaigns import CampaignState
    from chalicelib.services.campaigns import RECIPIENTS_PER_PAGE, RunReport, run_campaign

    members = context.repeat(2_000, 500)
    stack = context.stack()
    tenant = _tenant_publishing_events()
    context.progress(f"seeding {members:,} members")
    _seed(tenant, members)
    campaign = _launch(tenant)
    context.progress("running the campaign")
    invocations = 0
    started = time.perf_counter()
    with stack.calls.recording() as calls:
        while campaign.state is not CampaignState.COMPLETED:
            invocations += 1
            report = RunReport()
            campaign = run_campaign(
                tenant,
                campaign,
                datetime.now(UTC),
                time.monotonic() + JOB_BUDGET_SECONDS,
                report,
            )
    seconds = time.perf_counter() - started
    baseline = _read_membership_alone(tenant)
    operations = Counter(call.operation for call in calls)
    membership = sum(1 for c in calls if c.operation == "Query" and _membership_query(c.params))
    pages = math.ceil(members / RECIPIENTS_PER_PAGE)
    rate = members / seconds
    projected = TARGET_MEMBERS / rate
    projected_invocations = math.ceil(projected / JOB_BUDGET_SECONDS)
    return Section(
        title="Campaign launch",
        method=(
            f"A campaign (10 % holdout, email, every member consenting) to a segment of "
            f"{members:,} members seeded directly (profiles and membership items), on the "
            "harness's DynamoDB Local, run by the job's `run_campaign` in invocations of "
            f"{JOB_BUDGET_SECONDS:.0f} s (the job's 60 s timeout minus its 10 s margin) until "
            "it completes; the tenant has a webhook, so each send also writes its outbox event. "
            "Calls are counted at botocore. N is below 50,000 because seeding and sending "
            "50,000 on this shared 2-core machine would take most of an hour; the time for "
            "50,000 is extrapolated linearly from the measured throughput (the work per "
            "member is constant: one page read per 100 members, one transaction per member)."
        ),
        tables=[
            Table(
                ["measure", "value"],
                [
                    ["members", f"{members:,}"],
                    ["membership pages (100 members)", str(pages)],
                    ["membership Queries", str(membership)],
                    ["Scan calls", str(operations.get("Scan", 0))],
                    ["BatchGetItem (profiles)", str(operations.get("BatchGetItem", 0))],
                    [
                        "TransactWriteItems (one per member)",
                        str(operations.get("TransactWriteItems", 0)),
                    ],
                    [
                        "PutItem (campaign: start, cursor per page)",
                        str(operations.get("PutItem", 0)),
                    ],
                    ["invocations to complete", str(invocations)],
                    ["time to complete", f"{seconds:.1f} s ({rate:.0f} members/s)"],
                    [
                        "baseline: reading the membership pages alone (same run)",
                        f"{baseline:.2f} s; launch / baseline {seconds / baseline:.0f}x",
                    ],
                    [
                        "50,000 members, extrapolated",
                        f"{projected:.0f} s, {projected_invocations} invocation(s) of "
                        f"{JOB_BUDGET_SECONDS:.0f} s",
                    ],
                ],
            )
        ],
        checks=[
            Check(
                "reads no more than the membership pages (one Query per shard a page touches)",
                f"{membership} membership Queries for {pages} pages, "
                f"{operations.get('Scan', 0)} Scan",
                f"≤ pages + {16} shard boundaries, no Scan",
                membership <= pages + 16 and operations.get("Scan", 0) == 0,
            ),
            Check(
                "50,000 members finish within one scheduled run (extrapolated on DynamoDB Local)",
                f"{projected:.0f} s",
                f"≤ {JOB_BUDGET_SECONDS:.0f} s",
                projected <= JOB_BUDGET_SECONDS,
            ),
        ],
    )
