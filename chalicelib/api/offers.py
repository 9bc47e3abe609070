"""Offers and coupons routes: define offers, issue coupons, validate and redeem them."""

from __future__ import annotations

from typing import Any

from chalicelib.api.routing import Call, Operations, Reply, etag_for
from chalicelib.domain.clock import utc_now
from chalicelib.domain.offers import Offer
from chalicelib.domain.paging import PageRequest
from chalicelib.schemas.common import PageQuery
from chalicelib.schemas.offers import (
    CouponCheck,
    CouponIssue,
    CouponOut,
    CouponPage,
    CouponRedeem,
    OfferCreate,
    OfferList,
    OfferOut,
    OfferPage,
    OfferPatch,
)
from chalicelib.services import offers as service

offers_api = Operations(__name__)


def _offer_reply(offer: Offer, status: int = 200) -> Reply:
    return Reply(OfferOut.of(offer), status, {"ETag": etag_for(offer.version)})


def _holder(call: Call[Any, Any]) -> str | None:
    """The customer a customer token acts for (None for the merchant's keys)."""
    return call.principal.customer_id if call.principal is not None else None


@offers_api.operation(
    "POST",
    "/v1/offers",
    summary="Create an offer",
    tag="offers",
    body=OfferCreate,
    response=OfferOut,
    status=201,
)
def create_offer(call: Call[OfferCreate, None]) -> Reply:
    """A bonus-points offer (fixed points by coupon, or a multiplier on purchases in its
    window), a discount (percent or amount, applied by the POS) or a gift."""
    offer = service.create_offer(call.tenant, call.body.to_draft())
    reply = _offer_reply(offer, 201)
    reply.headers["Location"] = f"/v1/offers/{offer.id}"
    return reply


@offers_api.operation(
    "GET",
    "/v1/offers",
    summary="List offers",
    tag="offers",
    query=PageQuery,
    response=OfferPage,
)
def list_offers(call: Call[None, PageQuery]) -> Reply:
    """Every offer, oldest first."""
    page = service.list_offers(call.tenant, PageRequest(call.query.limit, call.query.cursor))
    return Reply(
        OfferPage(items=[OfferOut.of(o) for o in page.items], next_cursor=page.next_cursor)
    )


@offers_api.operation(
    "GET",
    "/v1/offers/{offer_id}",
    summary="Get an offer",
    tag="offers",
    response=OfferOut,
    extra_responses=(404,),
)
def get_offer(call: Call[None, None], offer_id: str) -> Reply:
    return _offer_reply(service.get_offer(call.tenant, offer_id))


@offers_api.operation(
    "PATCH",
    "/v1/offers/{offer_id}",
    summary="Update an offer",
    tag="offers",
    body=OfferPatch,
    response=OfferOut,
    extra_responses=(404, 412),
)
def update_offer(call: Call[OfferPatch, None], offer_id: str) -> Reply:
    """Name, description, validity, coupon days, active. Send `If-Match` with the ETag to
    change only the version you read."""
    offer = service.update_offer(
        call.tenant, offer_id, call.body.to_changes(), call.if_match_version()
    )
    return _offer_reply(offer)


@offers_api.operation(
    "POST",
    "/v1/offers/{offer_id}/coupons",
    summary="Issue a coupon to a customer",
    tag="offers",
    body=CouponIssue,
    response=CouponOut,
    status=201,
    extra_responses=(404,),
)
def issue_coupon(call: Call[CouponIssue, None], offer_id: str) -> Reply:
    """A new single-use code of a live offer for the customer: ten characters of Crockford
    base 32, unique in the tenant. Multiplier offers have no coupons (422)."""
    coupon = service.issue_coupon(call.tenant, offer_id, call.body.customer_id)
    return Reply(CouponOut.of(coupon, utc_now()), 201)


@offers_api.operation(
    "GET",
    "/v1/coupons/{code}",
    summary="Check a coupon",
    tag="offers",
    response=CouponCheck,
    extra_responses=(404,),
)
def check_coupon(call: Call[None, None], code: str) -> Reply:
    """`status` valid, expired or redeemed, the offer to apply and, once the order it was
    redeemed for is recorded as a purchase, that purchase. A code of no coupon of this
    tenant is 404 (as is another customer's, for a customer token)."""
    state = service.check_coupon(call.tenant, code, _holder(call))
    return Reply(CouponCheck.of_state(state))


@offers_api.operation(
    "POST",
    "/v1/coupons/{code}/redeem",
    summary="Redeem a coupon",
    tag="offers",
    body=CouponRedeem,
    response=CouponOut,
    extra_responses=(404, 409),
)
def redeem_coupon(call: Call[CouponRedeem, None], code: str) -> Reply:
    """Marks the coupon used for `order_id`, once: the same order again answers the same
    coupon; another order, or an expired coupon, is 409 `coupon-unusable` with `reason`.
    A bonus-points coupon credits its points in the same transaction."""
    body = call.body
    coupon = service.redeem_coupon(
        call.tenant, code, body.order_id, body.customer_id, _holder(call), call.actor
    )
    return Reply(CouponOut.of(coupon, utc_now()))


@offers_api.operation(
    "GET",
    "/v1/customers/{customer_id}/coupons",
    summary="A customer's coupons",
    tag="offers",
    query=PageQuery,
    response=CouponPage,
    extra_responses=(404,),
)
def list_customer_coupons(call: Call[None, PageQuery], customer_id: str) -> Reply:
    """Newest first, each with its status now."""
    page = service.list_customer_coupons(
        call.tenant, customer_id, PageRequest(call.query.limit, call.query.cursor)
    )
    now = utc_now()
    return Reply(
        CouponPage(items=[CouponOut.of(c, now) for c in page.items], next_cursor=page.next_cursor)
    )


@offers_api.operation(
    "GET",
    "/v1/customers/{customer_id}/offers",
    summary="The offers that reach a customer now",
    tag="offers",
    response=OfferList,
    extra_responses=(404,),
)
def list_customer_offers(call: Call[None, None], customer_id: str) -> Reply:
    """Live multiplier offers (they apply to every purchase in their window) and the
    offers of the customer's usable coupons."""
    offers = service.offers_for_customer(call.tenant, customer_id)
    return Reply(OfferList(items=[OfferOut.of(o) for o in offers]))
