"""Acceptance: with `make run`'s stack, a birthday campaign runs end to end over HTTP: a
customer whose birthday is today joins `birthday:this_month` (data stream), the campaign
job (local schedule) sends her message as a signed Standard Webhooks POST to a local
receiver, the send is recorded, and her purchase shows in the campaign's results."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.api import Api
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


def birthday_campaign() -> dict[str, Any]:
    return {
        "name": "Happy birthday",
        "audience": {"trigger": {"kind": "birthday"}},
        "message": {"template": "Happy birthday, {{first_name}}!"},
        "channel": "email",
        "schedule": {"kind": "now"},
        "holdout_percent": 0,
    }


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
    # When a birthday campaign is launched
    created = tenant_a.post("/v1/campaigns", birthday_campaign())
    assert created.status == 201, created.text
    campaign = created.json["id"]
    assert tenant_a.post(f"/v1/campaigns/{campaign}/launch").status == 200
    # Then the campaign job sends her message to the receiver, signed
    _eventually(lambda: bool(_campaign_messages(receiver)))
    (message,) = _campaign_messages(receiver)
    delivery = next(d for d in receiver.received if json.loads(d["body"])["id"] == message["id"])
    assert standard_webhooks_valid(delivery)
    assert message["customer_id"] == ann
    assert message["detail"]["message"] == "Happy birthday, Ann!"
    assert message["detail"]["campaign_id"] == campaign
    # and the run completed with the send counted and its delivery recorded
    _eventually(lambda: tenant_a.get(f"/v1/campaigns/{campaign}").json["state"] == "completed")
    _eventually(lambda: tenant_a.get(f"/v1/campaigns/{campaign}/results").json["delivered"] == 1)
    # When she buys
    bought = tenant_a.post(
        f"/v1/customers/{ann}/interactions",
        {"type": "purchase", "amount": "25.50", "currency": "EUR", "order_id": "bday-1"},
    )
    assert bought.status == 201, bought.text
    # Then the results show the conversion and its revenue
    _eventually(lambda: tenant_a.get(f"/v1/campaigns/{campaign}/results").json["conversions"] == 1)
    results = tenant_a.get(f"/v1/campaigns/{campaign}/results").json
    assert (results["sent"], results["purchases"]) == (1, 1)
    assert results["revenue"] == "25.50"
    assert len(_campaign_messages(receiver)) == 1
