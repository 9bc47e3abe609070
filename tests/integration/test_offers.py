"""Offers and coupons through the API (moto): define, issue, check, redeem, multipliers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import CouponUnusable
from chalicelib.domain.offers import CouponStatus
from chalicelib.domain.tenancy import tenant_id
from chalicelib.services import offers
from tests.support.api import Api


def offer_body(**fields: Any) -> dict[str, Any]:
    """A 10 % discount offer whose coupons last 30 days, unless `fields` say otherwise."""
    return {"name": "Ten off", "type": "discount", "percent": "10", "coupon_days": 30, **fields}


def _create_offer(api: Api, **fields: Any) -> dict[str, Any]:
    answer = api.post("/v1/offers", offer_body(**fields))
    assert answer.status == 201, answer.text
    return dict(answer.json)


def _issue(api: Api, offer: str, customer: str) -> dict[str, Any]:
    answer = api.post(f"/v1/offers/{offer}/coupons", {"customer_id": customer})
    assert answer.status == 201, answer.text
    return dict(answer.json)


def _customer(api: Api) -> str:
    return str(api.create_customer(name="Ann")["id"])


def _buy(api: Api, customer: str, amount: str, order_id: str) -> dict[str, Any]:
    answer = api.post(
        f"/v1/customers/{customer}/interactions",
        {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order_id},
    )
    assert answer.status == 201, answer.text
    return dict(answer.json)


def test_an_offer_is_created_read_listed_and_patched_with_its_etag(tenant_a: Api) -> None:
    # Given an offer
    created = tenant_a.post("/v1/offers", offer_body())
    assert created.status == 201, created.text
    offer = created.json
    assert (offer["type"], offer["percent"], offer["active"]) == ("discount", "10", True)

    # When it is listed and patched, once with its ETag and once with a stale one
    listed = tenant_a.get("/v1/offers").json["items"]
    etag = tenant_a.get(f"/v1/offers/{offer['id']}").headers["etag"]
    patched = tenant_a.patch(
        f"/v1/offers/{offer['id']}", {"active": False}, headers={"If-Match": etag}
    )
    stale = tenant_a.patch(f"/v1/offers/{offer['id']}", {"name": "x"}, headers={"If-Match": etag})

    # Then
    assert [o["id"] for o in listed] == [offer["id"]]
    assert patched.status == 200 and patched.json["active"] is False
    stale.problem(412)
    assert tenant_a.get(f"/v1/offers/{offer['id']}").json["name"] == "Ten off"


def test_bad_offers_are_refused_naming_the_field(tenant_a: Api) -> None:
    # When offers missing or mixing their type's fields are sent
    no_value = tenant_a.post("/v1/offers", offer_body(percent=None)).problem(422)
    mixed = tenant_a.post("/v1/offers", offer_body(points=10)).problem(422)
    no_currency = tenant_a.post("/v1/offers", offer_body(percent=None, amount="5")).problem(422)
    tiny = tenant_a.post(
        "/v1/offers", {"name": "x", "type": "bonus_points", "multiplier": "1"}
    ).problem(422)

    # Then each names its field, and no offer was made
    assert [e["field"] for e in no_value["errors"]] == ["percent"]
    assert [e["field"] for e in mixed["errors"]] == ["points"]
    assert [e["field"] for e in no_currency["errors"]] == ["currency"]
    assert [e["field"] for e in tiny["errors"]] == ["multiplier"]
    assert tenant_a.get("/v1/offers").json["items"] == []


def test_a_coupon_is_issued_checked_and_redeemed_once_linked_to_its_purchase(
    tenant_a: Api,
) -> None:
    # Given a discount coupon issued to a customer
    customer = _customer(tenant_a)
    offer = _create_offer(tenant_a)
    coupon = _issue(tenant_a, offer["id"], customer)
    assert len(coupon["code"]) == 10 and coupon["status"] == "valid"

    # When the till checks it (typed in lower case), redeems it for order o-1 twice, then
    # for o-2, and the purchase of o-1 is recorded afterwards
    checked = tenant_a.get(f"/v1/coupons/{coupon['code'].lower()}")
    first = tenant_a.post(f"/v1/coupons/{coupon['code']}/redeem", {"order_id": "o-1"})
    retry = tenant_a.post(f"/v1/coupons/{coupon['code']}/redeem", {"order_id": "o-1"})
    other = tenant_a.post(f"/v1/coupons/{coupon['code']}/redeem", {"order_id": "o-2"})
    purchase = _buy(tenant_a, customer, "40", "o-1")
    after = tenant_a.get(f"/v1/coupons/{coupon['code']}")

    # Then it was valid with its offer, redeemed once for o-1, and now shows the purchase
    assert checked.status == 200, checked.text
    assert (checked.json["status"], checked.json["offer"]["percent"]) == ("valid", "10")
    assert checked.json["purchase"] is None
    assert first.status == retry.status == 200
    assert first.json == retry.json
    assert (first.json["status"], first.json["order_id"]) == ("redeemed", "o-1")
    assert other.problem(409)["reason"] == "redeemed"
    assert after.json["purchase"]["interaction_id"] == purchase["id"]
    assert after.json["order_id"] == "o-1"


def test_a_coupon_redeemed_for_an_order_already_recorded_shows_it(tenant_a: Api) -> None:
    # Given a purchase recorded first
    customer = _customer(tenant_a)
    purchase = _buy(tenant_a, customer, "25", "o-9")
    coupon = _issue(tenant_a, _create_offer(tenant_a)["id"], customer)

    # When the coupon is redeemed for that order
    redeemed = tenant_a.post(f"/v1/coupons/{coupon['code']}/redeem", {"order_id": "o-9"})

    # Then checking it shows the purchase
    assert redeemed.status == 200, redeemed.text
    linked = tenant_a.get(f"/v1/coupons/{coupon['code']}").json["purchase"]
    assert (linked["interaction_id"], linked["amount"]) == (purchase["id"], "25")


def test_unknown_and_other_customers_coupons_are_404(tenant_a: Api, tenant_b: Api) -> None:
    # Given another customer's coupon and a coupon of tenant B
    customer, other = _customer(tenant_a), _customer(tenant_a)
    theirs = _issue(tenant_a, _create_offer(tenant_a)["id"], other)
    foreign = _issue(tenant_b, _create_offer(tenant_b)["id"], _customer(tenant_b))

    # When tenant A redeems B's code, names the wrong customer, or checks a non-code
    cross_tenant = tenant_a.post(f"/v1/coupons/{foreign['code']}/redeem", {"order_id": "o-1"})
    wrong_customer = tenant_a.post(
        f"/v1/coupons/{theirs['code']}/redeem", {"order_id": "o-1", "customer_id": customer}
    )
    malformed = tenant_a.get("/v1/coupons/not-a-code")

    # Then each is 404, and nothing was redeemed
    cross_tenant.problem(404)
    wrong_customer.problem(404)
    malformed.problem(404)
    assert tenant_a.get(f"/v1/coupons/{theirs['code']}").json["status"] == "valid"
    assert tenant_b.get(f"/v1/coupons/{foreign['code']}").json["status"] == "valid"


def test_an_expired_coupon_is_refused_as_expired(tenant_a: Api) -> None:
    # Given a coupon that lasts 30 days
    tenant = tenant_id(tenant_a.tenant_id)
    coupon = offers.issue_coupon(tenant, _create_offer(tenant_a)["id"], _customer(tenant_a))
    later = utc_now() + timedelta(days=31)

    # When it is checked and redeemed after them
    state = offers.check_coupon(tenant, coupon.code, None, now=later)
    with pytest.raises(CouponUnusable) as refused:
        offers.redeem_coupon(tenant, coupon.code, "o-1", None, None, "key_x", now=later)

    # Then it reads expired and is refused as such, unredeemed
    assert state.coupon.status(later) is CouponStatus.EXPIRED
    assert refused.value.reason == "expired"
    assert tenant_a.get(f"/v1/coupons/{coupon.code}").json["redeemed_at"] is None


def test_a_bonus_points_coupon_credits_its_points_once(tenant_a: Api) -> None:
    # Given a coupon worth 250 points
    customer = _customer(tenant_a)
    offer = _create_offer(tenant_a, type="bonus_points", percent=None, points=250)
    coupon = _issue(tenant_a, offer["id"], customer)

    # When it is redeemed twice for the same order
    first = tenant_a.post(f"/v1/coupons/{coupon['code']}/redeem", {"order_id": "o-5"})
    again = tenant_a.post(f"/v1/coupons/{coupon['code']}/redeem", {"order_id": "o-5"})

    # Then the points were credited once, the ledger naming the coupon
    assert first.status == again.status == 200, first.text
    assert tenant_a.get(f"/v1/customers/{customer}/points").json["balance"] == 250
    ledger = tenant_a.get(f"/v1/customers/{customer}/points/transactions").json["items"]
    assert [(e["type"], e["points"], e["reference"]) for e in ledger] == [
        ("earn", 250, f"coupon:{coupon['code']}")
    ]


def test_a_purchase_inside_a_multiplier_offer_earns_multiplied_points(tenant_a: Api) -> None:
    # Given a x2 offer running now
    customer = _customer(tenant_a)
    offer = _create_offer(
        tenant_a, type="bonus_points", percent=None, coupon_days=None, multiplier="2"
    )

    # When a purchase of 120 is recorded (120 points by default)
    purchase = _buy(tenant_a, customer, "120", "o-7")

    # Then it earned 240, and the ledger says why
    assert purchase["points"] == 240
    [entry] = tenant_a.get(f"/v1/customers/{customer}/points/transactions").json["items"]
    assert (entry["points"], entry["reason"]) == (240, f"offer {offer['id']}: points x2")
    tenant_a.post(f"/v1/offers/{offer['id']}/coupons", {"customer_id": customer}).problem(422)


def test_a_customer_token_sees_and_redeems_its_own_coupons_only(
    tenant_a: Api, customer_token: Callable[[Api, str], Api]
) -> None:
    # Given two customers with a coupon each, and a multiplier offer running
    mine, theirs = _customer(tenant_a), _customer(tenant_a)
    discount = _create_offer(tenant_a)
    unheld = _create_offer(tenant_a, name="Not mine")
    boost = _create_offer(tenant_a, type="bonus_points", percent=None, multiplier="1.5")
    my_coupon = _issue(tenant_a, discount["id"], mine)
    their_coupon = _issue(tenant_a, unheld["id"], theirs)
    token = customer_token(tenant_a, mine)

    # When the token lists, checks and redeems
    coupons = token.get(f"/v1/customers/{mine}/coupons")
    offered = token.get(f"/v1/customers/{mine}/offers")
    token.get(f"/v1/coupons/{their_coupon['code']}").problem(404)
    token.post(f"/v1/coupons/{their_coupon['code']}/redeem", {"order_id": "o-1"}).problem(404)
    token.get(f"/v1/customers/{theirs}/coupons").problem(404)
    token.post("/v1/offers", offer_body()).problem(403)
    token.post(f"/v1/offers/{discount['id']}/coupons", {"customer_id": mine}).problem(403)
    redeemed = token.post(f"/v1/coupons/{my_coupon['code']}/redeem", {"order_id": "o-2"})

    # Then it saw only its own, and redeemed its own
    assert [c["code"] for c in coupons.json["items"]] == [my_coupon["code"]]
    assert sorted(o["id"] for o in offered.json["items"]) == sorted([discount["id"], boost["id"]])
    assert redeemed.status == 200 and redeemed.json["order_id"] == "o-2"
    assert tenant_a.get(f"/v1/coupons/{their_coupon['code']}").json["status"] == "valid"


def test_a_purchase_recorded_with_a_coupon_redeems_it_for_its_order(tenant_a: Api) -> None:
    # Given a customer's discount coupon and a bonus-points coupon, and another's coupon
    customer, other = _customer(tenant_a), _customer(tenant_a)
    discount = _issue(tenant_a, _create_offer(tenant_a)["id"], customer)
    bonus_offer = _create_offer(tenant_a, type="bonus_points", percent=None, points=30)
    bonus = _issue(tenant_a, bonus_offer["id"], customer)
    theirs = _issue(tenant_a, _create_offer(tenant_a)["id"], other)

    # When purchases name them (the first in lower case), and the first is sent again
    purchase = {"type": "purchase", "amount": "50", "currency": "EUR"}
    path = f"/v1/customers/{customer}/interactions"
    first = tenant_a.post(
        path, {**purchase, "order_id": "o-1", "coupon_code": discount["code"].lower()}
    )
    again = tenant_a.post(path, {**purchase, "order_id": "o-1", "coupon_code": discount["code"]})
    reused = tenant_a.post(path, {**purchase, "order_id": "o-2", "coupon_code": discount["code"]})
    boosted = tenant_a.post(path, {**purchase, "order_id": "o-3", "coupon_code": bonus["code"]})
    foreign = tenant_a.post(path, {**purchase, "order_id": "o-4", "coupon_code": theirs["code"]})

    # Then each coupon is redeemed for its purchase's order, shown both ways, and only once
    assert first.status == 201, first.text
    assert first.json["coupon_code"] == discount["code"]
    assert again.json["id"] == first.json["id"]
    assert reused.problem(409)["reason"] == "redeemed"
    assert foreign.problem(422)["errors"][0]["field"] == "coupon_code"
    checked = tenant_a.get(f"/v1/coupons/{discount['code']}").json
    assert (checked["status"], checked["order_id"]) == ("redeemed", "o-1")
    assert checked["purchase"]["interaction_id"] == first.json["id"]
    assert boosted.status == 201 and boosted.json["points"] == 50
    points = tenant_a.get(f"/v1/customers/{customer}/points").json["balance"]
    assert points == 50 + 50 + 30
    assert tenant_a.get(f"/v1/coupons/{theirs['code']}").json["status"] == "valid"
    orders = [i["order_id"] for i in tenant_a.get(path).json["items"]]
    assert sorted(orders) == ["o-1", "o-3"]
