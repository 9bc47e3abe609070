"""Offers and coupons: define offers, issue single-use codes to customers, validate and
redeem them at the till, and boost purchases inside a multiplier offer's window.

A coupon's code is its key, so a code is unique within the tenant by the condition of its
creation; a redemption is one conditioned update (not yet redeemed, not expired, the
customer's), so a coupon is redeemed at most once. The redeemed coupon names the order;
the order's purchase (recorded before or after) is found by the order's claim item, so
either order of events shows the link on `GET /v1/coupons/{code}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from chalicelib.caching import ExpiringLruCache
from chalicelib.dal import control
from chalicelib.dal import loyalty as loyalty_repository
from chalicelib.dal import offers as repository
from chalicelib.dal.loyalty import ConditionedPart
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import (
    ConcurrentModification,
    CouponUnusable,
    FieldIssue,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from chalicelib.domain.ids import is_offer_id, new_offer_id
from chalicelib.domain.interactions import Order
from chalicelib.domain.loyalty import AccountChange
from chalicelib.domain.offers import (
    Coupon,
    Offer,
    OfferChanges,
    OfferType,
    apply_offer_changes,
    multiplied_points,
    normalise_code,
)
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId, TenantStatus
from chalicelib.services import customers, loyalty
from chalicelib.settings import get_settings

CODE_ATTEMPTS = 5
COUPONS_FOR_OFFER_LIST = 100
MULTIPLIER_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class _MultiplierOffers:
    """Every multiplier offer of a tenant that ends after `since` (or never)."""

    since: datetime
    offers: list[Offer]


_multiplier_offers: ExpiringLruCache[_MultiplierOffers] = ExpiringLruCache()


@dataclass(frozen=True)
class OfferDraft:
    name: str
    description: str | None
    type: OfferType
    points: int | None
    multiplier: Decimal | None
    percent: Decimal | None
    amount: Decimal | None
    currency: str | None
    gift: str | None
    coupon_days: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    active: bool


@dataclass(frozen=True)
class CouponState:
    """A coupon, its offer (None if it was removed) and the purchase its order names (None
    until the order is recorded as a purchase)."""

    coupon: Coupon
    offer: Offer | None
    purchase: Order | None
    checked_at: datetime


def _offer_not_found(offer_id: str) -> NotFound:
    return NotFound(f"offer {offer_id} does not exist")


def _coupon_not_found() -> NotFound:
    return NotFound("no coupon has this code")


def create_offer(tenant: TenantId, draft: OfferDraft, now: datetime | None = None) -> Offer:
    moment = now or utc_now()
    offer = Offer(id=new_offer_id(), **vars(draft), created_at=moment, updated_at=moment)
    offer.check_shape()
    created = repository.insert_offer(tenant, offer)
    _multiplier_offers.put(tenant, _MultiplierOffers(moment, []), 0)
    return created


def get_offer(tenant: TenantId, offer_id: str) -> Offer:
    offer = repository.get_offer(tenant, offer_id) if is_offer_id(offer_id) else None
    if offer is None:
        raise _offer_not_found(offer_id)
    return offer


def list_offers(tenant: TenantId, page: PageRequest) -> Page[Offer]:
    return repository.list_offers(tenant, page)


def update_offer(
    tenant: TenantId,
    offer_id: str,
    changes: OfferChanges,
    if_match: int | None,
    now: datetime | None = None,
) -> Offer:
    offer = get_offer(tenant, offer_id)
    if if_match is not None and if_match != offer.version:
        raise PreconditionFailed(f"offer {offer_id} is at another version")
    sent = changes.sent()
    if not sent:
        return offer
    changed = apply_offer_changes(offer, changes, now or utc_now())
    updated = repository.update_offer(tenant, changed, set(sent), offer.version)
    _multiplier_offers.put(tenant, _MultiplierOffers(changed.updated_at, []), 0)
    return updated


def issue_coupon(
    tenant: TenantId, offer_id: str, customer_id: str, *, campaign_id: str | None = None
) -> Coupon:
    """A new single-use code of the offer for the customer (a campaign names itself). The
    offer must be live and go by coupon (a multiplier does not)."""
    now = utc_now()
    offer = get_offer(tenant, offer_id)
    if not offer.issues_coupons:
        raise InvalidInput(
            [FieldIssue("offer_id", "a multiplier offer applies to purchases, not by coupon")]
        )
    if not offer.is_live(now):
        raise InvalidInput([FieldIssue("offer_id", "the offer is inactive or outside validity")])
    customers.get_customer(tenant, customer_id)
    for _ in range(CODE_ATTEMPTS):
        try:
            return repository.insert_coupon(tenant, offer.new_coupon(customer_id, now, campaign_id))
        except repository.CodeTaken:
            continue
    raise ConcurrentModification("no free coupon code was drawn; retry")


def _held_coupon(tenant: TenantId, raw_code: str, holder: str | None) -> Coupon:
    """The coupon of the code as typed; a customer token (`holder`) reaches its own only."""
    code = normalise_code(raw_code)
    coupon = repository.get_coupon(tenant, code) if code else None
    if coupon is None or (holder is not None and coupon.customer_id != holder):
        raise _coupon_not_found()
    return coupon


def check_coupon(
    tenant: TenantId, raw_code: str, holder: str | None, now: datetime | None = None
) -> CouponState:
    """The coupon's state (valid, expired or redeemed), its offer and the purchase linked."""
    coupon = _held_coupon(tenant, raw_code, holder)
    offer = repository.get_offer(tenant, coupon.offer_id)
    purchase = loyalty_repository.get_order(tenant, coupon.order_id) if coupon.order_id else None
    return CouponState(coupon, offer, purchase, now or utc_now())


class _RedeemedForThisOrder(Exception):
    """A retry: the coupon was already redeemed for the same order."""


def _refusal(tenant: TenantId, code: str, order_id: str, now: datetime) -> Callable[..., Exception]:
    def refused(labels: set[str]) -> Exception:
        stored = repository.get_coupon(tenant, code)
        if stored is None:
            return _coupon_not_found()
        try:
            if stored.check_redeemable(order_id, now):
                return ConcurrentModification(f"coupon {code} is being redeemed; retry")
        except CouponUnusable as error:
            return error
        return _RedeemedForThisOrder()

    return refused


def _redeem_with_points(
    tenant: TenantId, coupon: Coupon, order_id: str, actor: str, now: datetime
) -> bool:
    """A bonus-points coupon: its points are credited in the transaction that redeems it.
    Answers False when it had been redeemed for this order already (a retry)."""
    offer = get_offer(tenant, coupon.offer_id)
    config = loyalty.loyalty_config(tenant)
    refused = _refusal(tenant, coupon.code, order_id, now)

    def stage(change: AccountChange) -> loyalty.StagedChange:
        change.earn(offer.points or 0, None, reference=f"coupon:{coupon.code}")
        change.upgrade_tier()
        write = loyalty.account_write(coupon.customer_id, change)
        write.parts = [repository.redemption_part(tenant, coupon, order_id, now, refused)]
        return loyalty.StagedChange(write, None, change)

    try:
        loyalty.commit_account_change(tenant, coupon.customer_id, stage, config, actor, now)
    except _RedeemedForThisOrder:
        return False
    return True


def _redeem_alone(tenant: TenantId, coupon: Coupon, order_id: str, now: datetime) -> bool:
    """A discount or gift coupon: one conditioned update. Answers False when it had been
    redeemed for this order already (a retry)."""
    if repository.redeem_coupon(tenant, coupon, order_id, now):
        return True
    error = _refusal(tenant, coupon.code, order_id, now)(set())
    if isinstance(error, _RedeemedForThisOrder):
        return False
    raise error


def redeem_coupon(
    tenant: TenantId,
    raw_code: str,
    order_id: str,
    customer_id: str | None,
    holder: str | None,
    actor: str,
    now: datetime | None = None,
) -> Coupon:
    """Mark the coupon redeemed for `order_id` (once: a retry with the same order answers
    the same coupon; another order is 409 `coupon-unusable`, as is an expired coupon). With
    `customer_id`, the coupon must be that customer's (404 otherwise). A discount or gift
    coupon takes two round trips: the read and the conditioned update."""
    moment = now or utc_now()
    coupon = _held_coupon(tenant, raw_code, holder)
    if customer_id is not None and coupon.customer_id != customer_id:
        raise _coupon_not_found()
    if not coupon.check_redeemable(order_id, moment):
        return coupon
    if coupon.offer_type is OfferType.BONUS_POINTS:
        redeemed_now = _redeem_with_points(tenant, coupon, order_id, actor, moment)
    else:
        redeemed_now = _redeem_alone(tenant, coupon, order_id, moment)
    if redeemed_now:
        return replace(coupon, redeemed_at=moment, order_id=order_id)
    return _held_coupon(tenant, coupon.code, holder)


@dataclass(frozen=True)
class PurchaseCoupon:
    """A coupon a purchase applies: the write that redeems it for the purchase's order (None
    when it was redeemed for that order already), and the points it adds."""

    code: str
    part: ConditionedPart | None
    bonus_points: int


def purchase_coupon(
    tenant: TenantId, raw_code: str, customer_id: str, order_id: str, now: datetime
) -> PurchaseCoupon:
    """The coupon a purchase names, checked: the customer's (422 otherwise), not used for
    another order nor expired (409)."""
    code = normalise_code(raw_code)
    coupon = repository.get_coupon(tenant, code) if code else None
    if coupon is None or coupon.customer_id != customer_id:
        raise InvalidInput([FieldIssue("coupon_code", "no coupon of this customer has this code")])
    if not coupon.check_redeemable(order_id, now):
        return PurchaseCoupon(coupon.code, None, 0)
    points = 0
    if coupon.offer_type is OfferType.BONUS_POINTS:
        points = get_offer(tenant, coupon.offer_id).points or 0
    refusal = _refusal(tenant, coupon.code, order_id, now)

    def refused(labels: set[str]) -> Exception:
        error = refusal(labels)
        if isinstance(error, _RedeemedForThisOrder):
            return CouponUnusable(
                "redeemed",
                f"coupon {coupon.code} was just redeemed for this order by another request; "
                "send the purchase again",
            )
        return error

    part = repository.redemption_part(tenant, coupon, order_id, now, refused)
    return PurchaseCoupon(coupon.code, part, points)


def list_customer_coupons(tenant: TenantId, customer_id: str, page: PageRequest) -> Page[Coupon]:
    customers.get_customer(tenant, customer_id)
    return repository.list_customer_coupons(tenant, customer_id, page)


def offers_for_customer(
    tenant: TenantId, customer_id: str, now: datetime | None = None
) -> list[Offer]:
    """The live offers that reach the customer: multipliers (every purchase in their
    window), and those of the customer's usable coupons (its newest 100)."""
    moment = now or utc_now()
    customers.get_customer(tenant, customer_id)
    held = {
        coupon.offer_id
        for coupon in repository.customer_coupons(tenant, customer_id, COUPONS_FOR_OFFER_LIST)
        if coupon.status(moment).value == "valid"
    }
    candidates = {
        offer.id: offer
        for offer in [
            *repository.multiplier_offers_ending_after(tenant, moment),
            *repository.get_offers(tenant, held),
        ]
    }
    return [
        offer
        for _, offer in sorted(candidates.items())
        if offer.is_live(moment) and (not offer.issues_coupons or offer.id in held)
    ]


def _read_since(moment: datetime) -> datetime:
    """Where a read of multipliers for a purchase at `moment` starts: the UTC midnight a day
    before, so purchases sent a little after they happened share the cached read."""
    return datetime.combine((moment - MULTIPLIER_LOOKBACK).date(), time(), UTC)


def multiplier_offers(tenant: TenantId, moment: datetime) -> list[Offer]:
    """The tenant's multiplier offers that may be live at `moment`, kept for the auth
    cache's time (≤ 5 s) like the loyalty configuration, so a purchase adds no read; a
    change applies within that time. Only offers not ended are read; a purchase dated
    before the cached read's start reads again from its own day (and keeps that read)."""
    cached = _multiplier_offers.get(tenant)
    if cached is None or moment < cached.since:
        since = _read_since(min(moment, utc_now()))
        if cached is not None:
            since = min(since, cached.since)
        cached = _MultiplierOffers(since, repository.multiplier_offers_ending_after(tenant, since))
        _multiplier_offers.put(tenant, cached, get_settings().auth_cache_seconds)
    return cached.offers


def index_stored_offers() -> dict[TenantId, int]:
    """Once after the deploy that listed multiplier offers on gsi3: give each tenant's
    offers stored before it their keys and mark the tenant indexed (idempotent). Answers,
    per tenant not deleted, how many offers needed it."""
    return {
        tenant.id: repository.index_stored_offers(tenant.id)
        for tenant in control.iter_tenants()
        if tenant.status is not TenantStatus.DELETED
    }


def boosted_points(tenant: TenantId, base: int, moment: datetime) -> tuple[int, Offer | None]:
    """The points a purchase at `moment` earns with the live multiplier offers."""
    return multiplied_points(base, multiplier_offers(tenant, moment), moment)
