"""Campaign triggers over moto, end to end: a tier change, a resolved ticket (both from the
data stream) and points about to expire (the campaign job's daily sweep of the lot-expiry
index) each send one message per qualifying event per customer through the campaign send
path (signed webhook, message item, counters), and a redelivered stream sends nothing
new."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.clock import utc_now
from chalicelib.domain.interactions import InteractionDraft, InteractionType
from chalicelib.domain.tenancy import tenant_id
from chalicelib.services import loyalty
from chalicelib.services.campaigns import run_due_campaigns
from chalicelib.streams.campaign_sends import queue_pages
from chalicelib.streams.data_table import keep_customers_current
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api
from tests.support.campaigns import (
    delivered_messages,
    launched,
    results,
    send_campaign_webhooks_to,
    stored_messages,
    trigger_campaign,
)
from tests.support.grants import calls_granted_to
from tests.support.streams import StreamEventBuilder, data_stream_records
from tests.support.webhooks import Receiver, running_receiver, standard_webhooks_valid


@pytest.fixture(autouse=True)
def one_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's backend is not thread-safe: recipients go one at a time here."""
    from chalicelib.services import campaigns

    monkeypatch.setattr(campaigns, "SEND_WORKERS", 1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hooks/triggers") as state:
        yield state


class _Event:
    """What Chalice hands the data stream handler."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.context = None

    def to_dict(self) -> dict[str, Any]:
        return self.event


def _run_job(now: datetime | None = None) -> None:
    run_due_campaigns(now or utc_now(), time.monotonic() + 30, queue_pages)


def _buy(tenant: Api, customer: str, amount: str, order_id: str) -> None:
    answer = tenant.post(
        f"/v1/customers/{customer}/interactions",
        {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order_id},
    )
    assert answer.status == 201, answer.text


def _bought_days_ago(tenant: Api, customer: str, amount: str, days: int) -> None:
    """A purchase recorded as of `days` ago: its lot expires `validity_days` after then."""
    assert tenant.tenant_id is not None
    when = utc_now() - timedelta(days=days)
    draft = InteractionDraft(
        type=InteractionType.PURCHASE,
        occurred_at=when,
        details={"amount": amount, "currency": "EUR", "order_id": f"o-{customer}-{days}"},
    )
    loyalty.record_interaction(
        tenant_id(tenant.tenant_id), customer, draft, "key_test", None, now=when
    )


def _redeliver_everything(environment: dict[str, str]) -> None:
    answer = keep_customers_current(_Event({"Records": data_stream_records(environment)}))
    assert answer == {"batchItemFailures": []}


def test_a_tier_change_messages_the_campaigns_that_want_it_once(
    tenant_a: Api,
    tenant_b: Api,
    streams: LocalStreamRunner,
    receiver: Receiver,
    environment: dict[str, str],
) -> None:
    # Given running campaigns on any tier change and on reaching gold (and another
    # tenant's)
    send_campaign_webhooks_to(tenant_a, receiver.url)
    any_change = launched(tenant_a, trigger_campaign("tier_changed"))
    to_gold = launched(tenant_a, trigger_campaign("tier_changed", tier="gold"))
    elsewhere = launched(tenant_b, trigger_campaign("tier_changed"))
    _run_job()
    assert tenant_a.get(f"/v1/campaigns/{to_gold}").json["state"] == "running"
    ann = tenant_a.create_customer(name="Ann Lee", consent={"email_marketing": True})["id"]
    streams.drain()
    # When her purchases lift her to silver, then to gold
    _buy(tenant_a, ann, "1000", "t-1")
    streams.drain()
    after_silver = delivered_messages(receiver)
    _buy(tenant_a, ann, "4000", "t-2")
    streams.drain()
    # Then the any-change campaign sent twice and the gold one once, signed, to her
    assert after_silver == [(any_change, ann, "Ann: tier_changed")]
    assert delivered_messages(receiver) == sorted(
        [(any_change, ann, "Ann: tier_changed")] * 2 + [(to_gold, ann, "Ann: tier_changed")]
    )
    assert all(standard_webhooks_valid(d) for d in receiver.received)
    statuses = sorted((m["campaign_id"], m["status"]) for m in stored_messages(tenant_a, ann))
    assert statuses == sorted([(any_change, "sent"), (any_change, "sent"), (to_gold, "sent")])
    assert (results(tenant_a, any_change)["sent"], results(tenant_a, to_gold)["sent"]) == (2, 1)
    assert results(tenant_b, elsewhere)["sent"] == 0
    # When every record of the data stream is delivered again
    _redeliver_everything(environment)
    streams.drain()
    # Then nothing new was recorded, sent or counted
    assert len(stored_messages(tenant_a, ann)) == 3
    assert len(delivered_messages(receiver)) == 3
    assert results(tenant_a, any_change)["sent"] == 2
    assert results(tenant_a, any_change)["delivered"] == 2


def test_a_resolved_ticket_messages_its_customer_once_per_resolution(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver, environment: dict[str, str]
) -> None:
    # Given a running ticket_resolved campaign and a ticket of Ann's
    send_campaign_webhooks_to(tenant_a, receiver.url)
    campaign = launched(tenant_a, trigger_campaign("ticket_resolved"))
    _run_job()
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    bob = tenant_a.create_customer(name="Bob", consent={"email_marketing": True})["id"]
    ticket = tenant_a.post(
        "/v1/tickets",
        {
            "customer_id": ann,
            "category": "complaint",
            "subject": "Broken zip",
            "description": "The zip broke on day one.",
            "channel": "email",
        },
    )
    assert ticket.status == 201, ticket.text
    path = f"/v1/tickets/{ticket.json['id']}/transitions"
    assert tenant_a.post(path, {"to": "open"}).status == 200
    streams.drain()
    assert delivered_messages(receiver) == []
    # When it is resolved, reopened and resolved again, and the stream is delivered twice
    assert tenant_a.post(path, {"to": "resolved"}).status == 200
    streams.drain()
    assert tenant_a.post(path, {"to": "open"}).status == 200
    assert tenant_a.post(path, {"to": "resolved"}).status == 200
    streams.drain()
    _redeliver_everything(environment)
    streams.drain()
    # Then Ann got one message per resolution and Bob none
    assert delivered_messages(receiver) == [(campaign, ann, "Ann: ticket_resolved")] * 2
    assert [m["status"] for m in stored_messages(tenant_a, ann)] == ["sent", "sent"]
    assert stored_messages(tenant_a, bob) == []
    assert (results(tenant_a, campaign)["sent"], results(tenant_a, campaign)["delivered"]) == (2, 2)


def test_a_redelivered_ticket_record_sends_nothing_new(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a running ticket_resolved campaign and a customer
    send_campaign_webhooks_to(tenant_a, "http://127.0.0.1:9/none")
    campaign = launched(tenant_a, trigger_campaign("ticket_resolved"))
    _run_job()
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    # When the same record of her ticket turning resolved arrives three times
    resolved_at = "2026-03-01T10:00:00.000000+0000"
    ticket = {
        "pk": f"T#{tenant_a.tenant_id}#CUS#{ann}",
        "sk": "TICKET#2026-03-01T09:00:00.000000Z#tkt_1",
        "entity": "customer_ticket",
        "ticket_id": "tkt_1",
        "category": "complaint",
        "status": "open",
        "created_at": "2026-03-01T09:00:00.000000+0000",
        "resolution_target_us": 86_400_000_000,
    }
    builder = StreamEventBuilder()
    for _ in range(3):
        builder.modify(ticket, {**ticket, "status": "resolved", "resolved_at": resolved_at})
    answer = keep_customers_current(_Event(builder.build()))
    # Then the batch succeeded and one message was recorded, keyed by the resolution time
    assert answer == {"batchItemFailures": []}
    (message,) = stored_messages(tenant_a, ann)
    assert message["status"] == "sent"
    assert message["sk"] == f"MSG#2026-03-01T10:00:00+00:00#{campaign}"
    streams.drain()
    assert results(tenant_a, campaign)["sent"] == 1


def test_points_expiring_sweeps_each_lot_date_once(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    # Given Ann's points expire in 5 days, Bob's in 65, Cat's in 3 but she spent them
    send_campaign_webhooks_to(tenant_a, receiver.url)
    ann, bob, cat = (
        tenant_a.create_customer(name=name, consent={"email_marketing": True})["id"]
        for name in ("Ann", "Bob", "Cat")
    )
    _bought_days_ago(tenant_a, ann, "50", 360)
    _bought_days_ago(tenant_a, bob, "80", 300)
    _bought_days_ago(tenant_a, cat, "30", 362)
    spent = tenant_a.post(
        f"/v1/customers/{cat}/points/redeem", {"points": 30, "reason": "gift card"}
    )
    assert spent.status == 201 and spent.json["balance"] == 0, spent.text
    streams.drain()
    # When a campaign on points expiring within 14 days is launched and the job runs twice
    campaign = launched(tenant_a, trigger_campaign("points_expiring", within_days=14))
    with calls_granted_to("RunCampaigns"):
        _run_job()
        _run_job()
    streams.drain()
    # Then only Ann was messaged, once, and the next sweep is due at the next midnight
    assert delivered_messages(receiver) == [(campaign, ann, "Ann: points_expiring")]
    assert [m["status"] for m in stored_messages(tenant_a, ann)] == ["sent"]
    assert stored_messages(tenant_a, bob) == stored_messages(tenant_a, cat) == []
    stored = tenant_a.get(f"/v1/campaigns/{campaign}").json
    tomorrow = (utc_now() + timedelta(days=1)).date().isoformat()
    assert stored["state"] == "running" and stored["next_run_at"].startswith(tomorrow)
    assert stored["audience"]["trigger"] == {
        "kind": "points_expiring",
        "segment_id": None,
        "within_days": 14,
    }
    # When the job runs 55 days later (Bob's lot is then 10 days from expiry)
    _run_job(utc_now() + timedelta(days=55))
    _run_job(utc_now() + timedelta(days=55))
    streams.drain()
    # Then Bob got his one message and Ann nothing more
    assert delivered_messages(receiver) == sorted(
        [(campaign, ann, "Ann: points_expiring"), (campaign, bob, "Bob: points_expiring")]
    )
    assert [m["status"] for m in stored_messages(tenant_a, bob)] == ["sent"]
    assert len(stored_messages(tenant_a, ann)) == 1
    assert results(tenant_a, campaign)["sent"] == 2


def test_a_tier_campaign_naming_a_tier_the_tenant_lacks_is_refused(tenant_a: Api) -> None:
    # When a tier_changed campaign names a tier outside the tenant's tiers
    answer = tenant_a.post("/v1/campaigns", trigger_campaign("tier_changed", tier="diamond"))
    # Then 422 names the field and the tiers, and nothing is stored
    problem = answer.problem(422)
    (error,) = problem["errors"]
    assert error["field"] == "audience.trigger.tier"
    assert "diamond" in error["message"] and "gold" in error["message"]
    assert tenant_a.get("/v1/campaigns").json["items"] == []


@pytest.mark.parametrize(
    ("trigger", "named"),
    [
        ({"kind": "points_expiring"}, "within_days"),
        ({"kind": "points_expiring", "within_days": 366}, "within_days"),
        ({"kind": "ticket_resolved", "within_days": 7}, "within_days"),
        ({"kind": "ticket_resolved", "tier": "gold"}, "tier"),
        ({"kind": "tier_changed", "segment_id": "value:vip"}, "segment_id"),
    ],
)
def test_trigger_parameters_that_do_not_fit_the_kind_are_refused(
    tenant_a: Api, trigger: dict[str, Any], named: str
) -> None:
    # When a campaign's trigger has a parameter missing, out of range or of another kind
    body = trigger_campaign("x")
    body["audience"] = {"trigger": trigger}
    answer = tenant_a.post("/v1/campaigns", body)
    # Then 422 problem+json names it, and nothing is stored
    problem = answer.problem(422)
    assert any(
        e["field"].startswith("audience.trigger") and named in e["field"] + e["message"]
        for e in problem["errors"]
    ), problem
    assert tenant_a.get("/v1/campaigns").json["items"] == []


def test_a_trigger_message_in_quiet_hours_is_deferred_then_sent_once_they_end(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver, environment: dict[str, str]
) -> None:
    from tests.support.webhooks import SECRET

    # Given a running ticket_resolved campaign, then quiet hours all day but 23:59
    send_campaign_webhooks_to(tenant_a, receiver.url)
    campaign = launched(tenant_a, trigger_campaign("ticket_resolved"))
    _run_job()
    quiet = tenant_a.request(
        "PUT",
        "/v1/config",
        {
            "webhook_url": receiver.url,
            "webhook_secret": SECRET,
            "campaigns": {"quiet_hours": {"start": "00:00", "end": "23:59", "time_zone": "UTC"}},
        },
        headers={"If-Match": '"1"'},
    )
    assert quiet.status == 200, quiet.text
    if utc_now().strftime("%H:%M") == "23:59":
        pytest.skip("the one minute of the day outside the quiet hours")
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    ticket = tenant_a.post(
        "/v1/tickets",
        {
            "customer_id": ann,
            "category": "complaint",
            "subject": "Late parcel",
            "description": "Still not here.",
            "channel": "email",
        },
    )
    assert ticket.status == 201, ticket.text
    # When the ticket is resolved inside the quiet hours, the stream delivered twice
    resolved = tenant_a.post(f"/v1/tickets/{ticket.json['id']}/transitions", {"to": "resolved"})
    assert resolved.status == 200, resolved.text
    streams.drain()
    _redeliver_everything(environment)
    _run_job()
    streams.drain()
    # Then the message is recorded deferred, nothing sent; the results count it as waiting
    assert [m["status"] for m in stored_messages(tenant_a, ann)] == ["deferred"]
    assert delivered_messages(receiver) == []
    assert (results(tenant_a, campaign)["sent"], results(tenant_a, campaign)["deferred"]) == (0, 1)
    # When the job runs after the quiet hours (23:59 UTC), twice
    after = utc_now().replace(hour=23, minute=59, second=30)
    _run_job(after)
    _run_job(after)
    streams.drain()
    # Then it was sent once, under the resolution's time, and counted
    (message,) = stored_messages(tenant_a, ann)
    assert message["status"] == "sent"
    assert message["sk"].startswith(f"MSG#{resolved.json['resolved_at'][:19]}")
    assert delivered_messages(receiver) == [(campaign, ann, "Ann: ticket_resolved")]
    figures = results(tenant_a, campaign)
    assert (figures["sent"], figures["delivered"], figures["deferred"]) == (1, 1, 0)
