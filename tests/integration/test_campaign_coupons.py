"""Campaigns wired to offers, coupons, the timeline and the export (issue 15), over the
Chalice test client on moto: each sent message of a discount or gift campaign issues its
recipient one coupon in the message's transaction, redeemed coupons count in the
campaign's results once, and messages show on the timeline and in the export."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from chalicelib.domain.campaigns import in_holdout
from chalicelib.domain.clock import utc_now
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services import campaigns as campaign_service
from chalicelib.streams.campaign_sends import queue_pages
from chalicelib.streams.data_table import keep_customers_current
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api
from tests.support.marketing import coupon_campaign_body, offer_body
from tests.support.streams import data_stream_records
from tests.support.webhooks import SECRET, Receiver, running_receiver


@pytest.fixture(autouse=True)
def one_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's backend is not thread-safe: a page's recipients go one at a time here."""
    monkeypatch.setattr(campaign_service, "SEND_WORKERS", 1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hooks/coupons") as state:
        yield state


def _tenant(api: Api) -> TenantId:
    assert api.tenant_id is not None
    return tenant_id(api.tenant_id)


def _use_webhook(api: Api, url: str) -> None:
    document = {"webhook_url": url, "webhook_secret": SECRET}
    answer = api.request("PUT", "/v1/config", document, headers={"If-Match": '"0"'})
    assert answer.status == 200, answer.text


def _offer(api: Api, **fields: Any) -> str:
    answer = api.post("/v1/offers", offer_body(**fields))
    assert answer.status == 201, answer.text
    return str(answer.json["id"])


def _launched_campaign(api: Api, offer_id: str | None, **overrides: Any) -> str:
    created = api.post("/v1/campaigns", coupon_campaign_body(offer_id, **overrides))
    assert created.status == 201, created.text
    campaign = str(created.json["id"])
    assert api.post(f"/v1/campaigns/{campaign}/launch").status == 200
    return campaign


def _run_job() -> None:
    campaign_service.run_due_campaigns(utc_now(), time.monotonic() + 30, queue_pages)


def _coupons(api: Api, customer: str) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/customers/{customer}/coupons")
    assert answer.status == 200, answer.text
    return list(answer.json["items"])


def _timeline(api: Api, customer: str, query: str = "") -> list[dict[str, Any]]:
    answer = api.get(f"/v1/customers/{customer}/interactions{query}")
    assert answer.status == 200, answer.text
    return list(answer.json["items"])


def _results(api: Api, campaign: str) -> dict[str, Any]:
    answer = api.get(f"/v1/campaigns/{campaign}/results")
    assert answer.status == 200, answer.text
    return dict(answer.json)


def _messages_sent(receiver: Receiver) -> dict[str, dict[str, Any]]:
    bodies = [json.loads(d["body"]) for d in receiver.received]
    return {b["customer_id"]: b["detail"] for b in bodies if b["type"] == "campaign.message"}


def _redeliver_data_stream(environment: dict[str, str]) -> None:
    """Every record of the data stream through the consumer once more (at-least-once)."""
    event = {"Records": data_stream_records(environment)}

    class Event:
        context = None

        def to_dict(self) -> dict[str, Any]:
            return event

    answer = keep_customers_current(Event())
    assert answer["batchItemFailures"] == []


def test_each_sent_message_issues_its_recipient_one_coupon_named_in_the_message(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    # Given a discount offer, two consenting prospects and one without consent
    _use_webhook(tenant_a, receiver.url)
    offer = _offer(tenant_a)
    ann = tenant_a.create_customer(name="Ann Lee", consent={"email_marketing": True})["id"]
    bob = tenant_a.create_customer(name="Bob", consent={"email_marketing": True})["id"]
    cat = tenant_a.create_customer(name="Cat", consent={"email_marketing": False})["id"]
    streams.drain()
    campaign = _launched_campaign(tenant_a, offer)
    # When the campaign runs and its messages are delivered
    _run_job()
    streams.drain()
    # Then each consenting recipient holds one coupon of the offer naming the campaign
    sent = _messages_sent(receiver)
    for customer in (ann, bob):
        (coupon,) = _coupons(tenant_a, customer)
        assert (coupon["offer_id"], coupon["campaign_id"]) == (offer, campaign)
        assert coupon["status"] == "valid"
        # and the message it got carries that code, in the text and as a field
        assert sent[customer]["coupon_code"] == coupon["code"]
        assert sent[customer]["offer_id"] == offer
    assert sent[ann]["message"] == f"Hi Ann, your code: {_coupons(tenant_a, ann)[0]['code']}"
    assert _coupons(tenant_a, ann)[0]["code"] != _coupons(tenant_a, bob)[0]["code"]
    # and the customer without consent got no message and no coupon
    assert cat not in sent and _coupons(tenant_a, cat) == []


def test_a_repeated_send_issues_no_second_coupon(
    tenant_a: Api, streams: LocalStreamRunner, environment: dict[str, str]
) -> None:
    from chalicelib.dal.campaigns import messages_since
    from chalicelib.services.tenant_config import get_tenant_config

    # Given a coupon campaign that messaged Ann
    offer = _offer(tenant_a)
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    campaign_id = _launched_campaign(tenant_a, offer)
    _run_job()
    streams.drain()
    tenant = _tenant(tenant_a)
    (message,) = messages_since(tenant, ann, utc_now().replace(year=2000), utc_now())
    run_at = datetime.fromisoformat(message.sk.removeprefix("MSG#").rsplit("#", 1)[0])
    # When the same run's send to her is retried, and the data stream is delivered twice
    campaign = campaign_service.get_campaign(tenant, campaign_id)
    config = get_tenant_config(tenant).campaigns
    campaign_service.send_to(tenant, campaign, [ann], run_at, utc_now(), config)
    streams.drain()
    _redeliver_data_stream(environment)
    # Then she still holds the one coupon, and the campaign counted one send
    (coupon,) = _coupons(tenant_a, ann)
    assert coupon["code"] == message.coupon_code
    assert _results(tenant_a, campaign_id)["sent"] == 1


def test_held_out_recipients_get_no_coupon(tenant_a: Api, streams: LocalStreamRunner) -> None:
    # Given six prospects and a coupon campaign with a 50 % holdout
    offer = _offer(tenant_a)
    customers = [
        tenant_a.create_customer(name=f"C{n}", consent={"email_marketing": True})["id"]
        for n in range(6)
    ]
    streams.drain()
    campaign = _launched_campaign(tenant_a, offer, holdout_percent=50)
    # When it runs
    _run_job()
    streams.drain()
    # Then exactly the treated customers hold a coupon
    held = [c for c in customers if in_holdout(campaign, c, 50)]
    assert held and len(held) < len(customers)
    for customer in customers:
        expected = 0 if customer in held else 1
        assert len(_coupons(tenant_a, customer)) == expected
    results = _results(tenant_a, campaign)
    assert (results["held_out"], results["sent"]) == (len(held), len(customers) - len(held))


def test_a_customer_token_sees_the_messages_it_was_sent_not_its_holdout(
    tenant_a: Api, streams: LocalStreamRunner, customer_token: Callable[[Api, str], Api]
) -> None:
    # Given a campaign with a 50 % holdout run over six prospects
    customers = [
        tenant_a.create_customer(name=f"C{n}", consent={"email_marketing": True})["id"]
        for n in range(6)
    ]
    streams.drain()
    campaign = _launched_campaign(tenant_a, _offer(tenant_a), holdout_percent=50)
    _run_job()
    streams.drain()
    held = next(c for c in customers if in_holdout(campaign, c, 50))
    treated = next(c for c in customers if not in_holdout(campaign, c, 50))

    # When each reads its timeline with its own token, and staff read the held-out one's
    def messages(api: Api, customer: str) -> list[str]:
        answer = api.get(f"/v1/customers/{customer}/interactions?type=campaign_message")
        assert answer.status == 200, answer.text
        return [item["campaign"]["status"] for item in answer.json["items"]]

    # Then the treated customer sees its message, the held-out one nothing, staff both
    assert messages(customer_token(tenant_a, treated), treated) == ["sent"]
    assert messages(customer_token(tenant_a, held), held) == []
    assert messages(tenant_a, held) == ["held_out"]


def test_a_bonus_points_offer_issues_no_coupon(tenant_a: Api, streams: LocalStreamRunner) -> None:
    # Given a campaign of a points multiplier offer (it applies by its window)
    offer = _offer(tenant_a, type="bonus_points", percent=None, multiplier="2", coupon_days=None)
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    campaign = _launched_campaign(
        tenant_a, offer, message={"template": "Double points this week, {{first_name}}"}
    )
    # When it runs
    _run_job()
    streams.drain()
    # Then Ann was sent the message with the offer and holds no coupon
    (entry,) = _timeline(tenant_a, ann, "?type=campaign_message")
    assert entry["campaign"]["status"] == "sent" and entry["campaign"]["offer_id"] == offer
    assert entry["campaign"]["coupon_code"] is None
    assert _coupons(tenant_a, ann) == []
    assert _results(tenant_a, campaign)["sent"] == 1


def test_an_ended_coupon_offer_sends_nothing_and_says_why(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a launched coupon campaign whose offer is then switched off
    offer = _offer(tenant_a)
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    campaign = _launched_campaign(tenant_a, offer)
    assert tenant_a.patch(f"/v1/offers/{offer}", {"active": False}).status == 200
    # When the campaign runs
    _run_job()
    streams.drain()
    # Then Ann's message is recorded as not sent for the ended offer, with no coupon
    (entry,) = _timeline(tenant_a, ann, "?type=campaign_message")
    assert entry["campaign"]["status"] == "offer_ended"
    assert _coupons(tenant_a, ann) == []
    results = _results(tenant_a, campaign)
    assert (results["sent"], results["skipped_offer_ended"]) == (0, 1)


@pytest.mark.parametrize(
    ("offer_fields", "field"),
    [
        (None, "message.template"),
        ({"type": "bonus_points", "percent": None, "multiplier": "2"}, "message.template"),
    ],
)
def test_a_coupon_code_template_needs_a_coupon_offer(
    tenant_a: Api, offer_fields: dict[str, Any] | None, field: str
) -> None:
    # Given no offer, or an offer that issues no campaign coupons
    offer = _offer(tenant_a, **offer_fields) if offer_fields else None
    # When a campaign whose template names {{coupon_code}} is created
    answer = tenant_a.post("/v1/campaigns", coupon_campaign_body(offer))
    # Then 422 names the template and nothing is stored
    problem = answer.problem(422)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert tenant_a.get("/v1/campaigns").json["items"] == []


def test_a_campaign_naming_an_unknown_or_other_tenants_offer_is_refused(
    tenant_a: Api, tenant_b: Api
) -> None:
    # Given an offer of tenant B
    foreign = _offer(tenant_b)
    # When tenant A names it, or an id of no offer, in a new or changed campaign
    created = tenant_a.post("/v1/campaigns", coupon_campaign_body(foreign))
    unknown = tenant_a.post("/v1/campaigns", coupon_campaign_body("off_01J00000000000000000000000"))
    draft = tenant_a.post(
        "/v1/campaigns", coupon_campaign_body(None, message={"template": "Hi {{first_name}}"})
    ).json["id"]
    changed = tenant_a.patch(f"/v1/campaigns/{draft}", {"offer_id": foreign})
    # Then each is 422 on offer_id and the draft keeps no offer
    for answer in (created, unknown, changed):
        assert [e["field"] for e in answer.problem(422)["errors"]] == ["offer_id"]
    assert tenant_a.get(f"/v1/campaigns/{draft}").json["offer_id"] is None


def test_a_redeemed_campaign_coupon_counts_once_in_the_results(
    tenant_a: Api, streams: LocalStreamRunner, environment: dict[str, str]
) -> None:
    # Given Ann holds the coupon a campaign issued her
    offer = _offer(tenant_a)
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    campaign = _launched_campaign(tenant_a, offer)
    _run_job()
    streams.drain()
    (coupon,) = _coupons(tenant_a, ann)
    assert _results(tenant_a, campaign)["redeemed"] == 0
    # When she redeems it for an order and buys that order, and the stream delivers twice
    redeemed = tenant_a.post(f"/v1/coupons/{coupon['code']}/redeem", {"order_id": "o-77"})
    assert redeemed.status == 200, redeemed.text
    bought = tenant_a.post(
        f"/v1/customers/{ann}/interactions",
        {"type": "purchase", "amount": "30", "currency": "EUR", "order_id": "o-77"},
    )
    assert bought.status == 201, bought.text
    streams.drain()
    _redeliver_data_stream(environment)
    # Then the campaign shows one redemption (a discount costs no points) and one conversion
    results = _results(tenant_a, campaign)
    assert (results["redeemed"], results["points_cost"]) == (1, 0)
    assert (results["conversions"], results["purchases"], results["revenue"]) == (1, 1, "30")
    # and the coupon names its order and purchase
    shown = tenant_a.get(f"/v1/coupons/{coupon['code']}").json
    assert shown["status"] == "redeemed" and shown["order_id"] == "o-77"


def test_a_coupon_of_no_campaign_counts_in_no_results(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a campaign that sent Ann a coupon, and a coupon issued to her by hand
    offer = _offer(tenant_a)
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    campaign = _launched_campaign(tenant_a, offer)
    _run_job()
    manual = tenant_a.post(f"/v1/offers/{offer}/coupons", {"customer_id": ann}).json
    assert manual["campaign_id"] is None
    # When she redeems the hand-issued one
    assert tenant_a.post(f"/v1/coupons/{manual['code']}/redeem", {"order_id": "o-1"}).status == 200
    streams.drain()
    # Then the campaign counted no redemption
    assert _results(tenant_a, campaign)["redeemed"] == 0


def test_each_message_is_on_the_timeline_newest_first_filterable_and_paged(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given Ann bought, then got a coupon campaign, then bought again
    offer = _offer(tenant_a)
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    first = tenant_a.post(
        f"/v1/customers/{ann}/interactions",
        {"type": "visit", "occurred_at": "2020-01-01T10:00:00Z"},
    )
    assert first.status == 201, first.text
    streams.drain()
    campaign = _launched_campaign(tenant_a, offer, channel="webhook")
    _run_job()
    streams.drain()
    later = tenant_a.post(f"/v1/customers/{ann}/interactions", {"type": "visit"})
    assert later.status == 201, later.text
    (coupon,) = _coupons(tenant_a, ann)
    # When her timeline is read whole, one entry a page, and only campaign messages
    whole = _timeline(tenant_a, ann)
    first_page = tenant_a.get(f"/v1/customers/{ann}/interactions?limit=1").json
    second_page = tenant_a.get(
        f"/v1/customers/{ann}/interactions?limit=1&cursor={first_page['next_cursor']}"
    ).json
    only = _timeline(tenant_a, ann, "?type=campaign_message")
    # Then the message sits between the visits, newest first
    assert [e["type"] for e in whole] == ["visit", "campaign_message", "visit"]
    message = whole[1]
    assert message["channel"] == "webhook" and message["customer_id"] == ann
    assert message["campaign"] == {
        "campaign_id": campaign,
        "status": "sent",
        "offer_id": offer,
        "coupon_code": coupon["code"],
        "delivered_at": None,
    }
    assert [e["id"] for e in first_page["items"] + second_page["items"]] == [
        e["id"] for e in whole[:2]
    ]
    assert only == [message]


def test_the_export_lists_the_customers_campaign_messages_and_coupons(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given Ann got a coupon campaign's message
    offer = _offer(tenant_a)
    ann = tenant_a.create_customer(name="Ann", consent={"email_marketing": True})["id"]
    streams.drain()
    campaign = _launched_campaign(tenant_a, offer)
    _run_job()
    streams.drain()
    (coupon,) = _coupons(tenant_a, ann)
    # When her data is exported
    answer = tenant_a.get(f"/v1/customers/{ann}/export")
    # Then it holds the message, naming the coupon, and the coupon naming the campaign
    assert answer.status == 200, answer.text
    (message,) = answer.json["campaign_messages"]
    assert message["type"] == "campaign_message" and message["channel"] == "email"
    assert message["campaign"]["campaign_id"] == campaign
    assert message["campaign"]["coupon_code"] == coupon["code"]
    assert [(c["code"], c["campaign_id"]) for c in answer.json["coupons"]] == [
        (coupon["code"], campaign)
    ]
