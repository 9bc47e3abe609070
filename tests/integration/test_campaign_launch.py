"""A campaign launch fanned out over the campaign-sends queue (issue 15), on moto: the job
queues one message per membership page and sends nothing itself; the workers send to each
page's members; the run ends on the job's next run once every page is settled, with exact
results; a redelivered page sends and counts nothing twice; a cancelled run's pages send
nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest

from chalicelib.domain.campaigns import PagesSettled, RecipientPage
from chalicelib.domain.clock import utc_now
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services.campaigns import run_due_campaigns
from chalicelib.streams.campaign_sends import queue_pages
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api
from tests.support.campaigns import delivered_messages, send_campaign_webhooks_to
from tests.support.grants import calls_granted_to
from tests.support.webhooks import Receiver, running_receiver


@pytest.fixture(autouse=True)
def pages_of_two(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pages of two recipients (so a few customers make several pages); one sender thread
    (moto's backend is not thread-safe)."""
    from chalicelib.services import campaigns

    monkeypatch.setattr(campaigns, "RECIPIENTS_PER_PAGE", 2)
    monkeypatch.setattr(campaigns, "SEND_WORKERS", 1)
    yield


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hooks/launch") as state:
        yield state


def _run_job(now: datetime | None = None) -> None:
    run_due_campaigns(now or utc_now(), time.monotonic() + 30, queue_pages)


def _tenant(api: Api) -> TenantId:
    assert api.tenant_id is not None
    return tenant_id(api.tenant_id)


def _prospects(api: Api, streams: LocalStreamRunner, count: int) -> list[str]:
    customers = [
        api.create_customer(name=f"Member {n}", consent={"email_marketing": True})["id"]
        for n in range(count)
    ]
    streams.drain()
    return customers


def _launched(api: Api) -> str:
    body = {
        "name": "Launch",
        "audience": {"segment_id": "lifecycle:prospect"},
        "message": {"template": "Hi {{first_name}}"},
        "channel": "email",
        "schedule": {"kind": "now"},
        "holdout_percent": 0,
    }
    created = api.post("/v1/campaigns", body)
    assert created.status == 201, created.text
    campaign = str(created.json["id"])
    assert api.post(f"/v1/campaigns/{campaign}/launch").status == 200
    return campaign


def _queued_messages(environment: dict[str, str]) -> int:
    sqs = boto3.client("sqs", region_name=environment["AWS_DEFAULT_REGION"])
    attributes = sqs.get_queue_attributes(
        QueueUrl=environment["CAMPAIGN_SEND_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _statuses(api: Api, customer_id: str) -> list[str]:
    from chalicelib.dal.campaigns import messages_since

    since = utc_now().replace(year=2000)
    return [m.status for m in messages_since(_tenant(api), customer_id, since, utc_now())]


def _state(api: Api, campaign: str) -> str:
    return str(api.get(f"/v1/campaigns/{campaign}").json["state"])


def _results(api: Api, campaign: str) -> dict[str, Any]:
    answer = api.get(f"/v1/campaigns/{campaign}/results")
    assert answer.status == 200, answer.text
    return dict(answer.json)


def _run_of(api: Api, campaign: str) -> Any:
    from chalicelib.dal.campaigns import get_campaign

    stored = get_campaign(_tenant(api), campaign)
    assert stored is not None and stored.progress is not None
    return stored.progress


def test_the_job_queues_the_pages_and_the_workers_send_them(
    tenant_a: Api, streams: LocalStreamRunner, environment: dict[str, str]
) -> None:
    from chalicelib.dal.campaigns import pages_settled

    # Given five prospects and a campaign launched to them
    customers = _prospects(tenant_a, streams, 5)
    campaign = _launched(tenant_a)

    # When the campaign job runs
    _run_job()

    # Then it queued three pages (2 + 2 + 1 members) and sent nothing itself
    assert _queued_messages(environment) == 3
    run = _run_of(tenant_a, campaign)
    assert (run.pages, run.queued_all, run.after) == (3, True, None)
    assert all(_statuses(tenant_a, customer) == [] for customer in customers)
    assert _state(tenant_a, campaign) == "running"

    # When the workers take the pages (and the streams count the messages)
    streams.drain()

    # Then every member has one message, every page is settled, and the run still runs
    assert all(_statuses(tenant_a, customer) == ["sent"] for customer in customers)
    assert pages_settled(_tenant(tenant_a), campaign, run.run_at) == PagesSettled(done=3)
    assert _state(tenant_a, campaign) == "running"

    # When the job runs again
    _run_job()

    # Then the run is over, with exact results and nothing left queued
    assert _state(tenant_a, campaign) == "completed"
    assert _results(tenant_a, campaign)["sent"] == 5
    assert _queued_messages(environment) == 0


def test_a_redelivered_page_sends_and_counts_nothing_twice(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    from chalicelib.dal.campaigns import pages_settled

    # Given a launch whose three pages were all sent
    customers = _prospects(tenant_a, streams, 5)
    campaign = _launched(tenant_a)
    _run_job()
    streams.drain()
    run = _run_of(tenant_a, campaign)
    two_sent = tuple(sorted(customers)[:2])

    # When page 0 is delivered again (as SQS may; two members already sent) and taken
    queue_pages(_tenant(tenant_a), [RecipientPage(campaign, run.run_at, 0, two_sent)])
    streams.drain()

    # Then its members still have one message each, and no page or send counted twice
    assert all(_statuses(tenant_a, customer) == ["sent"] for customer in customers)
    assert pages_settled(_tenant(tenant_a), campaign, run.run_at) == PagesSettled(done=3)
    _run_job()
    assert _state(tenant_a, campaign) == "completed"
    assert _results(tenant_a, campaign)["sent"] == 5


def test_the_pages_of_a_cancelled_run_send_nothing(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a launch whose pages are queued
    customers = _prospects(tenant_a, streams, 3)
    campaign = _launched(tenant_a)
    _run_job()

    # When it is cancelled before the workers take its pages
    assert tenant_a.post(f"/v1/campaigns/{campaign}/cancel").status == 200
    streams.drain()

    # Then nobody was messaged and it stays cancelled with nothing counted
    assert all(_statuses(tenant_a, customer) == [] for customer in customers)
    _run_job()
    assert _state(tenant_a, campaign) == "cancelled"
    assert _results(tenant_a, campaign)["sent"] == 0


def _quiet_all_day_but_2359(api: Api, receiver: Receiver) -> datetime:
    """Quiet hours from 00:00 to 23:59 UTC (campaign webhooks to `receiver`); answers a
    time today outside them, for the job."""
    quiet = {"start": "00:00", "end": "23:59", "time_zone": "UTC"}
    send_campaign_webhooks_to(api, receiver.url, quiet_hours=quiet)
    if utc_now().strftime("%H:%M") == "23:59":
        pytest.skip("the one minute of the day outside the quiet hours")
    return utc_now().replace(hour=23, minute=59, second=30)


def test_a_page_taken_in_quiet_hours_is_deferred_then_sent_once_after_them(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    from chalicelib.dal.campaigns import pages_settled

    # Given three prospects, quiet hours all day but 23:59 UTC, and a campaign launched
    after_quiet = _quiet_all_day_but_2359(tenant_a, receiver)
    customers = _prospects(tenant_a, streams, 3)
    campaign = _launched(tenant_a)

    # When the job queues its two pages outside the quiet hours (23:59:30) and the workers
    # take them inside them (now)
    with calls_granted_to("RunCampaigns"):
        _run_job(after_quiet)
    streams.drain()

    # Then nothing was sent: each member's message waits deferred, as the results say, and
    # the run does not end while they wait although its pages are settled
    run = _run_of(tenant_a, campaign)
    assert all(_statuses(tenant_a, customer) == ["deferred"] for customer in customers)
    assert delivered_messages(receiver) == []
    assert pages_settled(_tenant(tenant_a), campaign, run.run_at) == PagesSettled(done=2)
    figures = _results(tenant_a, campaign)
    assert (figures["deferred"], figures["sent"]) == (3, 0)
    with calls_granted_to("RunCampaigns"):
        _run_job()
    assert _state(tenant_a, campaign) == "running"

    # When page 0 is delivered again within the quiet hours (as SQS may)
    queue_pages(_tenant(tenant_a), [RecipientPage(campaign, run.run_at, 0, tuple(customers[:2]))])
    streams.drain()

    # Then nothing changed
    assert all(_statuses(tenant_a, customer) == ["deferred"] for customer in customers)
    assert _results(tenant_a, campaign)["deferred"] == 3

    # When the job runs after the quiet hours, twice, and the streams deliver
    with calls_granted_to("RunCampaigns"):
        _run_job(after_quiet)
        _run_job(after_quiet)
    streams.drain()

    # Then each member was sent one message, under the run's key, delivered once; the
    # deferred figure is back to 0 and the run is over
    assert all(_statuses(tenant_a, customer) == ["sent"] for customer in customers)
    assert delivered_messages(receiver) == sorted(
        (campaign, customer, "Hi Member") for customer in customers
    )
    figures = _results(tenant_a, campaign)
    assert (figures["deferred"], figures["sent"], figures["delivered"]) == (0, 3, 3)
    assert _state(tenant_a, campaign) == "completed"


def test_deferred_messages_of_a_cancelled_campaign_are_cancelled_not_sent(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    # Given a campaign whose page a worker took within the quiet hours
    after_quiet = _quiet_all_day_but_2359(tenant_a, receiver)
    customers = _prospects(tenant_a, streams, 2)
    campaign = _launched(tenant_a)
    _run_job(after_quiet)
    streams.drain()
    assert _results(tenant_a, campaign)["deferred"] == 2

    # When it is cancelled, and the job runs after the quiet hours
    assert tenant_a.post(f"/v1/campaigns/{campaign}/cancel").status == 200
    _run_job(after_quiet)
    streams.drain()

    # Then its messages are recorded cancelled, nothing was sent, and none waits
    assert all(_statuses(tenant_a, customer) == ["cancelled"] for customer in customers)
    assert delivered_messages(receiver) == []
    figures = _results(tenant_a, campaign)
    assert (figures["deferred"], figures["sent"]) == (0, 0)


def test_a_deferred_message_whose_customer_was_deleted_is_cancelled_and_the_run_ends(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    from chalicelib.dal.campaigns import deferred_messages

    # Given a campaign whose page a worker took within the quiet hours (two messages wait)
    after_quiet = _quiet_all_day_but_2359(tenant_a, receiver)
    kept, deleted = _prospects(tenant_a, streams, 2)
    campaign = _launched(tenant_a)
    _run_job(after_quiet)
    streams.drain()
    assert _results(tenant_a, campaign)["deferred"] == 2

    # When one of the two customers is deleted, and the job runs after the quiet hours
    assert tenant_a.delete(f"/v1/customers/{deleted}").status == 204
    _run_job(after_quiet)
    streams.drain()

    # Then the kept customer was sent the message, the deleted one's is recorded cancelled
    # (it no longer waits in the deferred index), and the run is over
    assert _statuses(tenant_a, kept) == ["sent"]
    assert _statuses(tenant_a, deleted) == ["cancelled"]
    assert delivered_messages(receiver) == [(campaign, kept, "Hi Member")]
    waiting, _ = deferred_messages(_tenant(tenant_a), 100, None)
    assert waiting == []
    figures = _results(tenant_a, campaign)
    assert (figures["deferred"], figures["sent"]) == (0, 1)
    _run_job(after_quiet)
    assert _state(tenant_a, campaign) == "completed"
