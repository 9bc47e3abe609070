"""Acceptance: with `make run`'s stack, a `tier_changed` campaign runs end to end over
HTTP: the campaign job (local schedule) starts it, a purchase lifts a customer into gold
(data stream), her message reaches a local receiver as a signed Standard Webhooks POST
once, and the send shows in the campaign's results."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.campaigns import send_campaign_webhooks_to, trigger_campaign
from tests.support.webhooks import Receiver, running_receiver, standard_webhooks_valid


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hooks/tiers") as state:
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


def test_a_tier_changed_campaign_messages_a_customer_reaching_gold(
    tenant_a: Api, receiver: Receiver
) -> None:
    # Given a tenant whose webhook is a local receiver, and a running campaign on reaching
    # gold
    send_campaign_webhooks_to(tenant_a, receiver.url)
    body = trigger_campaign("tier_changed", tier="gold")
    body["message"] = {"template": "Welcome to gold, {{first_name}}!"}
    created = tenant_a.post("/v1/campaigns", body)
    assert created.status == 201, created.text
    campaign = created.json["id"]
    assert created.json["audience"]["trigger"]["tier"] == "gold"
    assert tenant_a.post(f"/v1/campaigns/{campaign}/launch").status == 200
    _eventually(lambda: tenant_a.get(f"/v1/campaigns/{campaign}").json["state"] == "running")
    ann = tenant_a.create_customer(name="Ann Lee", consent={"email_marketing": True})["id"]
    # When a purchase earns her 1,000 points (silver), then one 4,000 more (gold)
    for amount, order in (("1000", "tier-1"), ("4000", "tier-2")):
        bought = tenant_a.post(
            f"/v1/customers/{ann}/interactions",
            {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order},
        )
        assert bought.status == 201, bought.text
    _eventually(lambda: tenant_a.get(f"/v1/customers/{ann}/points").json["tier"] == "gold")
    # Then the receiver gets her one signed message, for gold only
    _eventually(lambda: bool(_campaign_messages(receiver)))
    (message,) = _campaign_messages(receiver)
    delivery = next(d for d in receiver.received if json.loads(d["body"])["id"] == message["id"])
    assert standard_webhooks_valid(delivery)
    assert message["customer_id"] == ann
    assert message["detail"]["message"] == "Welcome to gold, Ann!"
    assert message["detail"]["campaign_id"] == campaign
    # and the results count the send and its delivery, once
    _eventually(lambda: tenant_a.get(f"/v1/campaigns/{campaign}/results").json["delivered"] == 1)
    results = tenant_a.get(f"/v1/campaigns/{campaign}/results").json
    assert (results["sent"], results["delivered"]) == (1, 1)
    assert len(_campaign_messages(receiver)) == 1
