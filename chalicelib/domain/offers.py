"""Offers and coupons: bonus points, discounts and gifts, and the single-use codes that
carry them to one customer. Plain Python.

Offer maths:
- A `bonus_points` offer with `multiplier` applies to purchases whose time falls in the
  offer's window [valid_from, valid_until). Multipliers do not stack: a purchase takes the
  highest multiplier among the offers active then, applied to the points the purchase earns
  by the loyalty rules (tier multiplier included), rounded down.
- A `bonus_points` offer with `points` is issued as coupons; redeeming one credits the
  points (an `earn` entry whose reference is the coupon code).
- A `discount` (`percent` or `amount`) and a `gift` are data for the POS: the coupon says
  what to apply, redemption records that it was applied to an order.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from chalicelib.domain.errors import CouponUnusable, FieldIssue, InvalidInput

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
_CROCKFORD_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})


class OfferType(StrEnum):
    BONUS_POINTS = "bonus_points"
    DISCOUNT = "discount"
    GIFT = "gift"


class CouponStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REDEEMED = "redeemed"


@dataclass(frozen=True)
class Offer:
    id: str
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
    created_at: datetime
    updated_at: datetime
    version: int = 0

    def check_shape(self) -> None:
        """Each type takes its own fields, and exactly one of a pair."""
        issues: list[FieldIssue] = []
        if self.type is OfferType.BONUS_POINTS and (self.points is None) == (
            self.multiplier is None
        ):
            issues.append(FieldIssue("points", "a bonus_points offer takes points or multiplier"))
        if self.type is OfferType.DISCOUNT and (self.percent is None) == (self.amount is None):
            issues.append(FieldIssue("percent", "a discount offer takes percent or amount"))
        if self.type is OfferType.DISCOUNT and self.amount is not None and not self.currency:
            issues.append(FieldIssue("currency", "an amount discount needs a currency"))
        if self.type is OfferType.GIFT and not self.gift:
            issues.append(FieldIssue("gift", "a gift offer names the gift"))
        foreign = {
            OfferType.BONUS_POINTS: ("percent", "amount", "gift"),
            OfferType.DISCOUNT: ("points", "multiplier", "gift"),
            OfferType.GIFT: ("points", "multiplier", "percent", "amount"),
        }[self.type]
        issues += [
            FieldIssue(name, f"not a field of a {self.type.value} offer")
            for name in foreign
            if getattr(self, name) is not None
        ]
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            issues.append(FieldIssue("valid_until", "must be after valid_from"))
        if issues:
            raise InvalidInput(issues)

    @property
    def issues_coupons(self) -> bool:
        """A multiplier applies to purchases by itself; every other offer goes by coupon."""
        return self.multiplier is None

    def is_live(self, moment: datetime) -> bool:
        return (
            self.active
            and (self.valid_from is None or self.valid_from <= moment)
            and (self.valid_until is None or moment < self.valid_until)
        )

    def coupon_expiry(self, issued_at: datetime) -> datetime | None:
        """A coupon lasts `coupon_days` from issue, and never beyond the offer's end."""
        ends = [self.valid_until] if self.valid_until else []
        if self.coupon_days is not None:
            ends.append(issued_at + timedelta(days=self.coupon_days))
        return min(ends) if ends else None

    def new_coupon(
        self, customer_id: str, issued_at: datetime, campaign_id: str | None = None
    ) -> Coupon:
        """A coupon of this offer for the customer, with a freshly drawn code."""
        return Coupon(
            code=new_coupon_code(),
            offer_id=self.id,
            offer_type=self.type,
            customer_id=customer_id,
            campaign_id=campaign_id,
            issued_at=issued_at,
            expires_at=self.coupon_expiry(issued_at),
        )


@dataclass(frozen=True)
class OfferChanges:
    """A PATCH of an offer: name, description, validity, coupon days, active (an offer's
    type and value stay what they were issued as)."""

    fields: dict[str, object] = field(default_factory=dict)

    def sent(self) -> dict[str, object]:
        return dict(self.fields)


def apply_offer_changes(offer: Offer, changes: OfferChanges, now: datetime) -> Offer:
    sent = changes.sent()
    for required in ("name", "active"):
        if required in sent and sent[required] is None:
            raise InvalidInput([FieldIssue(required, "may not be null")])
    changed = replace(offer, **sent, updated_at=now)  # type: ignore[arg-type]
    changed.check_shape()
    return changed


def multiplied_points(base: int, offers: list[Offer], moment: datetime) -> tuple[int, Offer | None]:
    """The points a purchase at `moment` earning `base` points earns with the tenant's
    multiplier offers: the highest live multiplier (they do not stack), rounded down.
    Answers the points and the offer applied (None: none was)."""
    live = [o for o in offers if o.multiplier is not None and o.is_live(moment)]
    if not live or base <= 0:
        return base, None
    best = max(live, key=lambda offer: (offer.multiplier or Decimal(1), offer.id))
    multiplier = best.multiplier or Decimal(1)
    if multiplier <= 1:
        return base, None
    boosted = int((Decimal(base) * multiplier).to_integral_value(rounding=ROUND_FLOOR))
    return boosted, best


def new_coupon_code() -> str:
    """Ten Crockford base-32 characters from a CSPRNG (50 bits): unguessable, typable, no
    I, L, O or U."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str | None:
    """A code as typed (any case, hyphens and spaces, I/L for 1 and O for 0) in its stored
    form; None when it cannot be a code."""
    code = raw.upper().replace("-", "").replace(" ", "").translate(_CROCKFORD_ALIASES)
    if len(code) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in code):
        return None
    return code


@dataclass(frozen=True)
class Coupon:
    code: str
    offer_id: str
    offer_type: OfferType
    customer_id: str
    campaign_id: str | None
    issued_at: datetime
    expires_at: datetime | None
    redeemed_at: datetime | None = None
    order_id: str | None = None

    def status(self, moment: datetime) -> CouponStatus:
        if self.redeemed_at is not None:
            return CouponStatus.REDEEMED
        if self.expires_at is not None and moment >= self.expires_at:
            return CouponStatus.EXPIRED
        return CouponStatus.VALID

    def check_redeemable(self, order_id: str, moment: datetime) -> bool:
        """Whether a redemption for `order_id` still has to be made: False when the coupon
        was already redeemed for this very order (a retry); CouponUnusable otherwise."""
        status = self.status(moment)
        if status is CouponStatus.REDEEMED:
            if self.order_id == order_id:
                return False
            raise CouponUnusable("redeemed", f"coupon {self.code} was redeemed for another order")
        if status is CouponStatus.EXPIRED:
            raise CouponUnusable("expired", f"coupon {self.code} has expired")
        return True
