"""Offers and coupons request and response bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from chalicelib.domain.offers import Coupon, Offer, OfferChanges, OfferType
from chalicelib.schemas.common import Instant, RequestBody
from chalicelib.schemas.interactions import Currency, Id
from chalicelib.schemas.loyalty import MAX_POINTS
from chalicelib.schemas.rewards import Description, RewardName
from chalicelib.services.offers import CouponState, OfferDraft

Multiplier = Annotated[Decimal, Field(gt=1, le=100, max_digits=6, decimal_places=2)]
Percent = Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2)]
DiscountAmount = Annotated[Decimal, Field(gt=0, le=10**9, max_digits=14, decimal_places=4)]
GiftName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CouponDays = Annotated[int, Field(ge=1, le=3650)]
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class OfferCreate(RequestBody):
    """`bonus_points` takes `points` (credited when its coupon is redeemed) or
    `multiplier` (on every purchase in the offer's window; no coupons); `discount` takes
    `percent` or `amount` with `currency`; `gift` names the `gift`."""

    name: RewardName
    description: Description | None = None
    type: OfferType
    points: Annotated[int, Field(ge=1, le=MAX_POINTS)] | None = None
    multiplier: Multiplier | None = None
    percent: Percent | None = None
    amount: DiscountAmount | None = None
    currency: Currency | None = None
    gift: GiftName | None = None
    coupon_days: CouponDays | None = Field(
        None, description="A coupon expires this many days after issue (and by valid_until)."
    )
    valid_from: Instant | None = None
    valid_until: Instant | None = Field(None, description="Exclusive end of the offer.")
    active: bool = True

    def to_draft(self) -> OfferDraft:
        return OfferDraft(**{name: getattr(self, name) for name in type(self).model_fields})


class OfferPatch(RequestBody):
    """Fields sent replace; `null` clears an optional one. Type and value do not change."""

    name: RewardName | None = None
    description: Description | None = None
    coupon_days: CouponDays | None = None
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    active: bool | None = None

    def to_changes(self) -> OfferChanges:
        return OfferChanges(fields={name: getattr(self, name) for name in self.model_fields_set})


class OfferOut(BaseModel):
    id: str
    name: str
    description: str | None
    type: OfferType
    points: int | None
    multiplier: str | None = Field(description="Decimal, as text.")
    percent: str | None = Field(description="Decimal, as text.")
    amount: str | None = Field(description="Decimal, as text.")
    currency: str | None
    gift: str | None
    coupon_days: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, offer: Offer) -> OfferOut:
        return cls(
            id=offer.id,
            name=offer.name,
            description=offer.description,
            type=offer.type,
            points=offer.points,
            multiplier=None if offer.multiplier is None else str(offer.multiplier),
            percent=None if offer.percent is None else str(offer.percent),
            amount=None if offer.amount is None else str(offer.amount),
            currency=offer.currency,
            gift=offer.gift,
            coupon_days=offer.coupon_days,
            valid_from=offer.valid_from,
            valid_until=offer.valid_until,
            active=offer.active,
            created_at=offer.created_at,
            updated_at=offer.updated_at,
        )


class OfferPage(BaseModel):
    items: list[OfferOut]
    next_cursor: str | None


class OfferList(BaseModel):
    items: list[OfferOut]


class CouponIssue(RequestBody):
    customer_id: CustomerId


class CouponRedeem(RequestBody):
    order_id: Id = Field(description="The order the coupon is applied to.")
    customer_id: CustomerId | None = Field(
        None, description="When sent, the coupon must be this customer's (404 otherwise)."
    )


class LinkedPurchase(BaseModel):
    order_id: str
    customer_id: str
    interaction_id: str
    amount: str
    currency: str


class CouponOut(BaseModel):
    code: str
    status: str = Field(description="valid, expired or redeemed (as of the answer).")
    offer_id: str
    offer_type: OfferType
    customer_id: str
    campaign_id: str | None
    issued_at: datetime
    expires_at: datetime | None
    redeemed_at: datetime | None
    order_id: str | None = Field(description="The order it was redeemed for.")

    @classmethod
    def of(cls, coupon: Coupon, moment: datetime) -> CouponOut:
        return cls(
            code=coupon.code,
            status=coupon.status(moment).value,
            offer_id=coupon.offer_id,
            offer_type=coupon.offer_type,
            customer_id=coupon.customer_id,
            campaign_id=coupon.campaign_id,
            issued_at=coupon.issued_at,
            expires_at=coupon.expires_at,
            redeemed_at=coupon.redeemed_at,
            order_id=coupon.order_id,
        )


class CouponCheck(CouponOut):
    offer: OfferOut | None
    purchase: LinkedPurchase | None = Field(
        description="The purchase recorded with the order id (null until it is recorded)."
    )

    @classmethod
    def of_state(cls, state: CouponState) -> CouponCheck:
        order = state.purchase
        return cls(
            **CouponOut.of(state.coupon, state.checked_at).model_dump(),
            offer=OfferOut.of(state.offer) if state.offer else None,
            purchase=(
                LinkedPurchase(
                    order_id=order.order_id,
                    customer_id=order.customer_id,
                    interaction_id=order.interaction_id,
                    amount=str(order.amount),
                    currency=order.currency,
                )
                if order
                else None
            ),
        )


class CouponPage(BaseModel):
    items: list[CouponOut]
    next_cursor: str | None
