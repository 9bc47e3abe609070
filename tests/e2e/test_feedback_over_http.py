"""Feedback and NPS over HTTP against `make run`'s stack (issue 15): answers posted through
the API, the local stream runner drains the data stream, and the NPS of a segment and of a
campaign shows them."""

from __future__ import annotations

import time

from devtools.stream_runner import wait_until_drained
from tests.e2e.conftest import LocalStack
from tests.support.api import Api


def _answer(tenant: Api, customer: str, **fields: object) -> None:
    answer = tenant.post(f"/v1/customers/{customer}/feedback", fields)
    assert answer.status == 201, answer.text


def test_answers_show_in_the_nps_of_their_segment_once_the_stream_drained(
    stack: LocalStack, tenant_a: Api
) -> None:
    # Given a prospect and a buyer whose memberships the stream has computed
    prospect = tenant_a.create_customer(name="Ann")["id"]
    buyer = tenant_a.create_customer(name="Bob")["id"]
    purchase = {"type": "purchase", "amount": "40", "currency": "EUR", "order_id": "fb-e2e-1"}
    assert tenant_a.post(f"/v1/customers/{buyer}/interactions", purchase).status == 201
    wait_until_drained(stack.local_dir, since=time.time())
    # When both answer a campaign's survey and the stream drains again
    _answer(tenant_a, prospect, nps=10, csat=5, campaign_id="cmp_e2e")
    _answer(tenant_a, buyer, nps=2, comment="late", campaign_id="cmp_e2e")
    wait_until_drained(stack.local_dir, since=time.time())
    # Then each segment shows its member's answer, the campaign both, the list the detractor
    prospects = tenant_a.get("/v1/analytics/nps?segment_id=lifecycle:prospect").json["total"]
    buyers = tenant_a.get("/v1/analytics/nps?segment_id=lifecycle:new").json["total"]
    campaign = tenant_a.get("/v1/analytics/nps?campaign_id=cmp_e2e").json["total"]
    tenant = tenant_a.get("/v1/analytics/nps").json["total"]
    listed = tenant_a.get("/v1/feedback?category=detractor")
    assert listed.status == 200, listed.text
    detractors = listed.json["items"]
    assert (prospects["responses"], prospects["nps"], prospects["csat_average"]) == (
        1,
        "100.0",
        "5.00",
    )
    assert (buyers["responses"], buyers["detractors"], buyers["nps"]) == (1, 1, "-100.0")
    assert (campaign["responses"], campaign["nps"]) == (2, "0.0")
    assert (tenant["responses"], tenant["promoters"], tenant["detractors"]) == (2, 1, 1)
    assert [(d["customer_id"], d["comment"]) for d in detractors] == [(buyer, "late")]
