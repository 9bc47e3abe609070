"""Campaigns over the Chalice test client on moto: every route and its errors, the state
machine, a run over segment membership (its pages queued by the job, sent by the queue's
workers) delivered as signed webhooks through the segment event path, consent and the
frequency cap honoured, and results counted once from the data stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.domain.clock import utc_now
from chalicelib.services.campaigns import run_due_campaigns
from chalicelib.streams.campaign_sends import queue_pages
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api
from tests.support.webhooks import SECRET, Receiver, running_receiver, standard_webhooks_valid


@pytest.fixture(autouse=True)
def one_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's backend is not thread-safe: a page's recipients go one at a time here (the
    parallel path runs against DynamoDB Local in tests/e2e)."""
    from chalicelib.services import campaigns

    monkeypatch.setattr(campaigns, "SEND_WORKERS", 1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hooks/campaigns") as state:
        yield state


def campaign_body(**overrides: Any) -> dict[str, Any]:
    """A valid campaign: every prospect, an email now, no holdout."""
    body: dict[str, Any] = {
        "name": "Welcome",
        "audience": {"segment_id": "lifecycle:prospect"},
        "message": {"template": "Hi {{first_name}}, welcome!"},
        "channel": "email",
        "schedule": {"kind": "now"},
        "holdout_percent": 0,
    }
    body.update(overrides)
    return body


def _configure(tenant: Api, **campaigns: Any) -> None:
    document: dict[str, Any] = {"webhook_url": None}
    if "url" in campaigns:
        document = {"webhook_url": campaigns.pop("url"), "webhook_secret": SECRET}
    if campaigns:
        document["campaigns"] = campaigns
    answer = tenant.request("PUT", "/v1/config", document, headers={"If-Match": '"0"'})
    assert answer.status == 200, answer.text


def _create(tenant: Api, **overrides: Any) -> dict[str, Any]:
    answer = tenant.post("/v1/campaigns", campaign_body(**overrides))
    assert answer.status == 201, answer.text
    return dict(answer.json)


def _run_job() -> None:
    run_due_campaigns(utc_now(), time.monotonic() + 30, queue_pages)


def _run_to_the_end(streams: LocalStreamRunner) -> None:
    """The job queues the run's pages, the workers send them (and the streams deliver),
    and the job's next run ends the run."""
    _run_job()
    streams.drain()
    _run_job()


def _results(tenant: Api, campaign_id: str) -> dict[str, Any]:
    answer = tenant.get(f"/v1/campaigns/{campaign_id}/results")
    assert answer.status == 200, answer.text
    return dict(answer.json)


def _messages(tenant: Api, customer_id: str) -> list[dict[str, Any]]:
    from chalicelib.dal.campaigns import messages_since
    from chalicelib.domain.tenancy import tenant_id

    assert tenant.tenant_id is not None
    since = utc_now().replace(year=2000)
    return [
        {"campaign_id": m.campaign_id, "status": m.status, "sk": m.sk}
        for m in messages_since(tenant_id(tenant.tenant_id), customer_id, since, utc_now())
    ]


def test_a_campaign_is_created_read_listed_and_changed_while_a_draft(tenant_a: Api) -> None:
    # Given a draft
    created = _create(tenant_a)
    assert created["state"] == "draft" and created["audience"] == {
        "segment_id": "lifecycle:prospect"
    }
    # When it is read, listed and renamed
    read = tenant_a.get(f"/v1/campaigns/{created['id']}")
    listed = tenant_a.get("/v1/campaigns")
    renamed = tenant_a.patch(
        f"/v1/campaigns/{created['id']}",
        {"name": "Hello", "message": {"template": "Hello {{name}}"}},
        headers={"If-Match": read.headers["etag"]},
    )
    # Then each answers the stored campaign
    assert read.json == created
    assert [c["id"] for c in listed.json["items"]] == [created["id"]]
    assert renamed.status == 200, renamed.text
    assert (
        renamed.json["name"] == "Hello" and renamed.json["message"]["template"] == "Hello {{name}}"
    )
    assert tenant_a.get(f"/v1/campaigns/{created['id']}").json["version"] == 2
    # and a stale If-Match is 412
    stale = tenant_a.patch(
        f"/v1/campaigns/{created['id']}", {"name": "X"}, headers={"If-Match": read.headers["etag"]}
    )
    assert stale.problem(412)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"message": {"template": "Hi {{password}}"}}, "message.template"),
        ({"holdout_percent": 51}, "holdout_percent"),
        ({"channel": "fax"}, "channel"),
        ({"audience": {"segment_id": "value:vip", "trigger": {"kind": "birthday"}}}, "audience"),
        ({"audience": {"trigger": {"kind": "points_expiring"}}}, "audience.trigger"),
        (
            {"audience": {"trigger": {"kind": "tier_changed", "within_days": 3}}},
            "audience.trigger",
        ),
        (
            {"audience": {"trigger": {"kind": "tier_changed", "tier": "Gold!"}}},
            "audience.trigger.tier",
        ),
        (
            {"audience": {"trigger": {"kind": "tier_changed", "tier": "diamond"}}},
            "audience.trigger.tier",
        ),
        (
            {"audience": {"trigger": {"kind": "points_expiring", "within_days": 0}}},
            "audience.trigger.within_days",
        ),
        ({"schedule": {"kind": "at"}}, "schedule"),
        ({"schedule": {"kind": "recurring", "every": "weekly", "time": "09:00"}}, "schedule"),
        ({"offer_id": "coupon-1"}, "offer_id"),
    ],
)
def test_bad_campaigns_are_refused_naming_the_field(
    tenant_a: Api, overrides: dict[str, Any], field: str
) -> None:
    # When a campaign with one bad part is created
    answer = tenant_a.post("/v1/campaigns", campaign_body(**overrides))
    # Then 422 names it and nothing is stored
    problem = answer.problem(422)
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert tenant_a.get("/v1/campaigns").json["items"] == []


def test_the_state_machine_refuses_invalid_transitions_naming_the_state(tenant_a: Api) -> None:
    # Given a launched campaign
    campaign = _create(tenant_a)["id"]
    launched = tenant_a.post(f"/v1/campaigns/{campaign}/launch")
    assert launched.status == 200 and launched.json["state"] == "scheduled"
    # When it is launched again, or cancelled twice
    again = tenant_a.post(f"/v1/campaigns/{campaign}/launch")
    cancelled = tenant_a.post(f"/v1/campaigns/{campaign}/cancel")
    twice = tenant_a.post(f"/v1/campaigns/{campaign}/cancel")
    changed = tenant_a.patch(f"/v1/campaigns/{campaign}", {"name": "late"})
    # Then the invalid moves are 409 naming the state now
    assert again.problem(409)["status_now"] == "scheduled"
    assert cancelled.json["state"] == "cancelled" and cancelled.json["next_run_at"] is None
    assert twice.problem(409)["status_now"] == "cancelled"
    assert changed.problem(409)["status_now"] == "cancelled"
    assert tenant_a.get(f"/v1/campaigns/{campaign}").json["state"] == "cancelled"


def test_campaign_routes_answer_404_for_unknown_and_other_tenants_ids(
    tenant_a: Api, tenant_b: Api
) -> None:
    campaign = _create(tenant_a)["id"]
    for method, suffix in [
        ("GET", ""),
        ("POST", "/launch"),
        ("POST", "/cancel"),
        ("GET", "/results"),
    ]:
        assert tenant_b.request(method, f"/v1/campaigns/{campaign}{suffix}").problem(404)
    assert tenant_a.get("/v1/campaigns/cmp_01ARZ3NDEKTSV4RRFFQ69G5FAV").problem(404)
    assert tenant_a.post(f"/v1/campaigns/{'x' * 2000}/launch").problem(404)
    assert tenant_b.get("/v1/campaigns").json["items"] == []


def test_roles_admin_and_staff_manage_readonly_reads_app_keys_are_refused(
    tenant_a: Api, key_with_role: Any
) -> None:
    staff = key_with_role(tenant_a, "staff")
    readonly = key_with_role(tenant_a, "readonly")
    app = key_with_role(tenant_a, "app")
    campaign = staff.post("/v1/campaigns", campaign_body())
    assert campaign.status == 201
    assert readonly.get(f"/v1/campaigns/{campaign.json['id']}").status == 200
    assert readonly.post("/v1/campaigns", campaign_body()).problem(403)
    assert app.get("/v1/campaigns").problem(403)


def test_a_run_messages_the_segment_honouring_consent_and_results_count_once(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    # Given a tenant with a webhook and three prospects, one without email consent
    _configure(tenant_a, url=receiver.url)
    ann = tenant_a.create_customer(name="Ann Lee", consent={"email_marketing": True})["id"]
    bob = tenant_a.create_customer(name="Bob", consent={"email_marketing": True})["id"]
    cat = tenant_a.create_customer(name="Cat", consent={"email_marketing": False})["id"]
    streams.drain()
    receiver.received.clear()
    campaign = _create(tenant_a)["id"]
    assert tenant_a.post(f"/v1/campaigns/{campaign}/launch").status == 200
    # When the campaign job runs, its pages are sent and the streams deliver
    _run_to_the_end(streams)
    streams.drain()
    # Then the consenting customers got one signed message each, rendered for them
    messages = [json.loads(d["body"]) for d in receiver.received]
    assert all(standard_webhooks_valid(d) for d in receiver.received)
    assert sorted((m["type"], m["customer_id"]) for m in messages) == sorted(
        [("campaign.message", ann), ("campaign.message", bob)]
    )
    by_customer = {m["customer_id"]: m["detail"] for m in messages}
    assert by_customer[ann]["message"] == "Hi Ann, welcome!"
    assert by_customer[ann]["channel"] == "email" and by_customer[ann]["campaign_id"] == campaign
    # and every recipient has the message on its timeline, Cat as skipped for consent
    assert [m["status"] for m in _messages(tenant_a, ann)] == ["sent"]
    assert [m["status"] for m in _messages(tenant_a, cat)] == ["no_consent"]
    # and the campaign completed with its figures
    assert tenant_a.get(f"/v1/campaigns/{campaign}").json["state"] == "completed"
    results = _results(tenant_a, campaign)
    assert (results["sent"], results["delivered"], results["skipped_no_consent"]) == (2, 2, 1)
    # When Ann buys, and every record is delivered again
    bought = tenant_a.post(
        f"/v1/customers/{ann}/interactions",
        {"type": "purchase", "amount": "40", "currency": "EUR", "order_id": "o-1"},
    )
    assert bought.status == 201
    streams.drain()
    _run_job()
    streams.drain()
    # Then the purchase converted once, and nothing was sent twice
    results = _results(tenant_a, campaign)
    assert (results["conversions"], results["purchases"], results["revenue"]) == (1, 1, "40")
    assert (results["sent"], results["delivered"]) == (2, 2)
    sent = [d for d in receiver.received if b'"campaign.message"' in d["body"]]
    assert len(sent) == 2


def test_results_counters_are_idempotent_under_redelivery(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    from chalicelib.domain.tenancy import tenant_id
    from chalicelib.services.campaigns import (
        record_delivery,
        record_message_outcome,
        record_purchase,
    )

    # Given a sent campaign message
    _configure(tenant_a, url="http://127.0.0.1:9/none")
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    campaign = _create(tenant_a)["id"]
    tenant_a.post(f"/v1/campaigns/{campaign}/launch")
    _run_to_the_end(streams)
    (message,) = _messages(tenant_a, ann)
    assert tenant_a.tenant_id is not None
    tenant = tenant_id(tenant_a.tenant_id)
    # When its delivery and a purchase are reported twice each
    detail = {"campaign_id": campaign, "message_sk": message["sk"]}
    streams.drain()
    for _ in range(2):
        record_message_outcome(tenant, ann, message["sk"], campaign, "sent")
        record_delivery(tenant, ann, detail)
        record_purchase(tenant, ann, "int_1", utc_now(), __import__("decimal").Decimal("12.5"))
    # Then each counted once
    results = _results(tenant_a, campaign)
    assert (results["sent"], results["delivered"]) == (1, 1)
    assert (results["conversions"], results["revenue"]) == (1, "12.5")


def test_the_frequency_cap_stops_a_second_campaign_in_the_window(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a cap of one campaign message per customer per window
    _configure(tenant_a, max_messages_per_customer=1, frequency_window_hours=24)
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    first, second = _create(tenant_a)["id"], _create(tenant_a, name="Again")["id"]
    # When both run
    for campaign in (first, second):
        tenant_a.post(f"/v1/campaigns/{campaign}/launch")
    _run_job()
    streams.drain()
    # Then the second is recorded as over the cap, not sent
    statuses = {m["campaign_id"]: m["status"] for m in _messages(tenant_a, ann)}
    assert sorted(statuses.values()) == ["over_cap", "sent"]
    assert _results(tenant_a, first)["sent"] + _results(tenant_a, second)["sent"] == 1
    assert (
        _results(tenant_a, first)["skipped_over_cap"]
        + _results(tenant_a, second)["skipped_over_cap"]
        == 1
    )


def test_quiet_hours_hold_a_run_until_they_end(tenant_a: Api, streams: LocalStreamRunner) -> None:
    # Given quiet hours that hold all day but the last minute
    _configure(tenant_a, quiet_hours={"start": "00:00", "end": "23:59", "time_zone": "UTC"})
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    campaign = _create(tenant_a)["id"]
    tenant_a.post(f"/v1/campaigns/{campaign}/launch")
    # When the job runs inside them
    if utc_now().strftime("%H:%M") == "23:59":
        pytest.skip("the one minute of the day outside the quiet hours")
    _run_job()
    # Then nothing was sent and the campaign still waits
    assert _messages(tenant_a, ann) == []
    assert tenant_a.get(f"/v1/campaigns/{campaign}").json["state"] == "scheduled"


def test_a_holdout_member_is_recorded_not_sent(tenant_a: Api, streams: LocalStreamRunner) -> None:
    from chalicelib.domain.campaigns import in_holdout

    # Given customers and a 50 % holdout
    customers = [
        tenant_a.create_customer(name=f"C{n}", consent={"email_marketing": True})["id"]
        for n in range(6)
    ]
    streams.drain()
    campaign = _create(tenant_a, holdout_percent=50)["id"]
    tenant_a.post(f"/v1/campaigns/{campaign}/launch")
    # When it runs, and its messages reach the stream twice
    _run_job()
    streams.drain()
    streams.drain()
    # Then each customer's message says its group, as the deterministic assignment says
    for customer in customers:
        (message,) = _messages(tenant_a, customer)
        expected = "held_out" if in_holdout(campaign, customer, 50) else "sent"
        assert message["status"] == expected
    results = _results(tenant_a, campaign)
    held = sum(in_holdout(campaign, c, 50) for c in customers)
    assert (results["held_out"], results["sent"]) == (held, len(customers) - held)


def test_a_segment_entered_campaign_messages_each_customer_that_enters(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    # Given a running campaign triggered by entering lifecycle:new
    _configure(tenant_a, url=receiver.url)
    campaign = _create(
        tenant_a,
        audience={"trigger": {"kind": "segment.entered", "segment_id": "lifecycle:new"}},
        message={"template": "Thanks for your first order, {{first_name}}"},
    )["id"]
    tenant_a.post(f"/v1/campaigns/{campaign}/launch")
    _run_job()
    assert tenant_a.get(f"/v1/campaigns/{campaign}").json["state"] == "running"
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    assert _messages(tenant_a, ann) == []
    # When Ann's first purchase moves her into lifecycle:new, and the streams run twice
    bought = tenant_a.post(
        f"/v1/customers/{ann}/interactions",
        {"type": "purchase", "amount": "15", "currency": "EUR", "order_id": "t-1"},
    )
    assert bought.status == 201
    streams.drain()
    streams.drain()
    # Then she got exactly one message from the campaign, and the purchase that caused it
    # is not its conversion
    sent = [json.loads(d["body"]) for d in receiver.received if b"campaign.message" in d["body"]]
    assert [(m["customer_id"], m["detail"]["message"]) for m in sent] == [
        (ann, "Thanks for your first order, Ann")
    ]
    assert [m["status"] for m in _messages(tenant_a, ann)] == ["sent"]
    results = _results(tenant_a, campaign)
    assert (results["sent"], results["delivered"], results["conversions"]) == (1, 1, 0)
