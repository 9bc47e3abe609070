"""Builders for campaign tests: request bodies, and reads of what a campaign recorded."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalicelib.domain.clock import utc_now
from tests.support.api import Api
from tests.support.webhooks import SECRET, Receiver


def trigger_campaign(kind: str, **trigger: Any) -> dict[str, Any]:
    """A valid campaign body with a trigger audience: an email, started now, no holdout."""
    return {
        "name": f"On {kind}",
        "audience": {"trigger": {"kind": kind, **trigger}},
        "message": {"template": f"{{{{first_name}}}}: {kind}"},
        "channel": "email",
        "schedule": {"kind": "now"},
        "holdout_percent": 0,
    }


def send_campaign_webhooks_to(tenant: Api, url: str, **campaigns: Any) -> None:
    document: dict[str, Any] = {"webhook_url": url, "webhook_secret": SECRET}
    if campaigns:
        document["campaigns"] = campaigns
    answer = tenant.request("PUT", "/v1/config", document, headers={"If-Match": '"0"'})
    assert answer.status == 200, answer.text


def launched(tenant: Api, body: dict[str, Any]) -> str:
    created = tenant.post("/v1/campaigns", body)
    assert created.status == 201, created.text
    campaign = str(created.json["id"])
    assert tenant.post(f"/v1/campaigns/{campaign}/launch").status == 200
    return campaign


def stored_messages(tenant: Api, customer_id: str) -> list[dict[str, Any]]:
    """The customer's campaign message items, any run time (a sweep names its messages by
    a start that may be ahead of now)."""
    from chalicelib.dal.campaigns import messages_since
    from chalicelib.domain.tenancy import tenant_id

    assert tenant.tenant_id is not None
    now = utc_now()
    return [
        {"campaign_id": m.campaign_id, "status": m.status, "sk": m.sk}
        for m in messages_since(
            tenant_id(tenant.tenant_id),
            customer_id,
            now - timedelta(days=3650),
            now + timedelta(days=3650),
        )
    ]


def delivered_messages(receiver: Receiver) -> list[tuple[str, str, str]]:
    """(campaign id, customer id, rendered text) of each `campaign.message` received."""
    bodies = [json.loads(d["body"]) for d in receiver.received]
    return sorted(
        (b["detail"]["campaign_id"], b["customer_id"], b["detail"]["message"])
        for b in bodies
        if b["type"] == "campaign.message"
    )


def results(tenant: Api, campaign_id: str) -> dict[str, Any]:
    answer = tenant.get(f"/v1/campaigns/{campaign_id}/results")
    assert answer.status == 200, answer.text
    return dict(answer.json)
