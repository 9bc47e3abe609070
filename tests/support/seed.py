"""One of each resource a tenant route's path can name, for the tests that aim generated
or foreign requests at real ids (tests/e2e/test_fuzz_api.py, test_cross_tenant_fuzz.py)."""

from __future__ import annotations

import time

from chalicelib.domain.duplicates import pair_id
from tests.support.api import Api


def seed_one_of_each(tenant: Api) -> dict[str, str]:
    """A customer with a purchase, a ticket with a comment, a segment, a campaign, a spare
    staff key, a duplicate candidate pair (a second profile of Ann, made by the stack's
    stream runner: this waits until it is listed, so reads of it do not change under a
    test), a reward, an offer, a coupon and an import awaiting its file of `tenant`; answers
    their ids by path parameter name."""
    customer = tenant.create_customer(name="Ann Lee", email="ann@example.com", tags=["vip"])
    twin = tenant.create_customer(name="Ann Lee", email="ann+shop@example.com")
    purchase = {"type": "purchase", "amount": "80.00", "currency": "EUR", "order_id": "o-1"}
    assert tenant.post(f"/v1/customers/{customer['id']}/interactions", purchase).status == 201
    ticket = tenant.post(
        "/v1/tickets",
        {
            "customer_id": customer["id"],
            "category": "complaint",
            "subject": "Broken",
            "description": "Arrived broken",
            "channel": "email",
        },
    )
    assert ticket.status == 201, ticket.text
    comment = tenant.post(f"/v1/tickets/{ticket.json['id']}/comments", {"body": "On it"})
    assert comment.status == 201, comment.text
    segment = tenant.post(
        "/v1/segments",
        {"name": "VIPs", "rule": {"field": "tags", "op": "contains", "value": "vip"}},
    )
    assert segment.status == 201, segment.text
    campaign = tenant.post(
        "/v1/campaigns",
        {
            "name": "Welcome",
            "audience": {"segment_id": segment.json["id"]},
            "message": {"template": "Hi {{first_name}}"},
            "channel": "email",
            "schedule": {"kind": "now"},
        },
    )
    assert campaign.status == 201, campaign.text
    key = tenant.post("/v1/api-keys", {"role": "staff", "label": "spare"})
    assert key.status == 201, key.text
    _wait_until_listed(tenant, customer["id"], twin["id"])
    reward = tenant.post("/v1/rewards", {"name": "Mug", "points_cost": 10, "stock": 5})
    assert reward.status == 201, reward.text
    offer = tenant.post("/v1/offers", {"name": "Ten off", "type": "discount", "percent": "10"})
    assert offer.status == 201, offer.text
    coupon = tenant.post(f"/v1/offers/{offer.json['id']}/coupons", {"customer_id": customer["id"]})
    assert coupon.status == 201, coupon.text
    merged = _merge_of_two(tenant)
    started = tenant.post(
        "/v1/imports",
        {
            "kind": "customers",
            "format": "csv",
            "upsert_key": "external_id",
            "mapping": {"id": "external_id"},
        },
    )
    assert started.status == 202, started.text
    return {
        "customer_id": customer["id"],
        "ticket_id": ticket.json["id"],
        "segment_id": segment.json["id"],
        "campaign_id": campaign.json["id"],
        "key_id": key.json["id"],
        "pair_id": pair_id(customer["id"], twin["id"]),
        "reward_id": reward.json["id"],
        "offer_id": offer.json["id"],
        "code": coupon.json["code"],
        "import_id": started.json["id"],
        "merge_id": merged,
    }


def _merge_of_two(tenant: Api) -> str:
    """The id of a merge of two profiles of their own (the other seeded ones stay as they are)."""
    survivor = tenant.create_customer(name="Merge Survivor")["id"]
    source = tenant.create_customer(name="Merge Source")["id"]
    etag = tenant.get(f"/v1/customers/{survivor}").headers["etag"]
    merged = tenant.post(
        f"/v1/customers/{survivor}/merge", {"from": [source]}, headers={"If-Match": etag}
    )
    assert merged.status == 200, merged.text
    return str(merged.json["id"])


def _wait_until_listed(tenant: Api, customer_id: str, twin_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = tenant.get(f"/v1/customers/{customer_id}/duplicates").json["items"]
        if [candidate["customer_id"] for candidate in listed] == [twin_id]:
            return
        time.sleep(0.3)
    raise AssertionError(f"the duplicate pair of {customer_id} and {twin_id} was not listed")
