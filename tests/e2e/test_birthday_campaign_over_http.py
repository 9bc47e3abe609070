"""Acceptance: with `make run`'s stack, a birthday campaign runs end to end over HTTP: a
customer whose birthday is today joins `birthday:this_month` (data stream), the campaign
job (local schedule) sends her message as a signed Standard Webhooks POST to a local
receiver with the code of the birthday coupon it issued her, the send is on her timeline,
and her redemption of the coupon and her purchase show in the campaign's results."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.marketing import coupon_campaign_body, offer_body
from tests.support.webhooks import SECRET, Receiver, running_receiver, standard_webhooks_valid


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hooks/birthday") as state:
        yield state


def _eventually(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not hold in time")
        time.sleep(0.3)


def _campaign_messages(receiver: Receiver) -> list[dict[str, Any]]:
    bodies = [json.loads(d["body"]) for d in receiver.received]
    return [b for b in bodies if b["type"] == "campaign.message"]


def birthday_campaign(offer_id: str) -> dict[str, Any]:
    return coupon_campaign_body(
        offer_id,
        name="Happy birthday",
        audience={"trigger": {"kind": "birthday"}},
        message={"template": "Happy birthday, {{first_name}}! Your gift: {{coupon_code}}"},
    )


def test_a_birthday_campaign_runs_end_to_end(tenant_a: Api, receiver: Receiver) -> None:
    # Given a tenant whose webhook is a local receiver, and a customer born on this day
    answer = tenant_a.request(
        "PUT",
        "/v1/config",
        {"webhook_url": receiver.url, "webhook_secret": SECRET},
        headers={"If-Match": '"0"'},
    )
    assert answer.status == 200, answer.text
    today = datetime.now(UTC).date()
    born = (
        today.replace(year=1990)
        if (today.month, today.day) != (2, 29)
        else today.replace(year=1992)
    )
    ann = tenant_a.create_customer(
        name="Ann Lee", birthday=born.isoformat(), consent={"email_marketing": True}
    )["id"]
    _eventually(
        lambda: (
            "birthday:this_month"
            in tenant_a.get(f"/v1/customers/{ann}/segments").json.get("segments", [])
        )
    )
    # When a birthday campaign with a gift offer is launched
    gift = tenant_a.post("/v1/offers", offer_body(type="gift", percent=None, gift="A cake"))
    assert gift.status == 201, gift.text
    created = tenant_a.post("/v1/campaigns", birthday_campaign(gift.json["id"]))
    assert created.status == 201, created.text
    campaign = created.json["id"]
    assert tenant_a.post(f"/v1/campaigns/{campaign}/launch").status == 200
    # Then the campaign job sends her message to the receiver, signed
    _eventually(lambda: bool(_campaign_messages(receiver)))
    (message,) = _campaign_messages(receiver)
    delivery = next(d for d in receiver.received if json.loads(d["body"])["id"] == message["id"])
    assert standard_webhooks_valid(delivery)
    assert message["customer_id"] == ann
    code = message["detail"]["coupon_code"]
    assert message["detail"]["message"] == f"Happy birthday, Ann! Your gift: {code}"
    assert message["detail"]["campaign_id"] == campaign
    # with the code of the one coupon the send issued her
    (coupon,) = tenant_a.get(f"/v1/customers/{ann}/coupons").json["items"]
    assert (coupon["code"], coupon["campaign_id"]) == (code, campaign)
    # and the send is on her timeline
    (entry,) = tenant_a.get(f"/v1/customers/{ann}/interactions?type=campaign_message").json["items"]
    assert (entry["campaign"]["campaign_id"], entry["campaign"]["coupon_code"]) == (campaign, code)
    # and the run completed with the send counted and its delivery recorded
    _eventually(lambda: tenant_a.get(f"/v1/campaigns/{campaign}").json["state"] == "completed")
    _eventually(lambda: tenant_a.get(f"/v1/campaigns/{campaign}/results").json["delivered"] == 1)
    # When she redeems the coupon at the till and buys
    redeemed = tenant_a.post(f"/v1/coupons/{code}/redeem", {"order_id": "bday-1"})
    assert redeemed.status == 200, redeemed.text
    bought = tenant_a.post(
        f"/v1/customers/{ann}/interactions",
        {"type": "purchase", "amount": "25.50", "currency": "EUR", "order_id": "bday-1"},
    )
    assert bought.status == 201, bought.text
    # Then the results show the redemption, the conversion and its revenue
    _eventually(lambda: tenant_a.get(f"/v1/campaigns/{campaign}/results").json["conversions"] == 1)
    _eventually(lambda: tenant_a.get(f"/v1/campaigns/{campaign}/results").json["redeemed"] == 1)
    results = tenant_a.get(f"/v1/campaigns/{campaign}/results").json
    assert (results["sent"], results["purchases"], results["points_cost"]) == (1, 1, 0)
    assert results["revenue"] == "25.50"
    assert len(_campaign_messages(receiver)) == 1
