"""Offer maths, coupon codes and reward availability: plain domain rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.errors import CouponUnusable, InvalidInput, RewardUnavailable
from chalicelib.domain.offers import (
    CODE_ALPHABET,
    CODE_LENGTH,
    Coupon,
    CouponStatus,
    Offer,
    OfferType,
    multiplied_points,
    new_coupon_code,
    normalise_code,
)
from chalicelib.domain.rewards import Reward
from chalicelib.domain.tenant_config import LoyaltyConfig

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def offer(**fields: object) -> Offer:
    """A live bonus-points multiplier offer (x2, the whole of June), unless `fields` say
    otherwise."""
    base = Offer(
        id="off_1",
        name="Double points",
        description=None,
        type=OfferType.BONUS_POINTS,
        points=None,
        multiplier=Decimal(2),
        percent=None,
        amount=None,
        currency=None,
        gift=None,
        coupon_days=None,
        valid_from=datetime(2026, 6, 1, tzinfo=UTC),
        valid_until=datetime(2026, 7, 1, tzinfo=UTC),
        active=True,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def reward(**fields: object) -> Reward:
    base = Reward(
        id="rwd_1",
        name="Mug",
        description=None,
        points_cost=100,
        stock=5,
        per_customer_limit=None,
        valid_from=None,
        valid_until=None,
        tier_required=None,
        active=True,
        redeemed_count=0,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_a_purchase_inside_the_window_earns_the_multiplier_rounded_down() -> None:
    # Given a x1.5 offer
    boost = offer(multiplier=Decimal("1.5"))
    # When purchases earning 7 points fall inside, at the start and at the end of it
    inside = multiplied_points(7, [boost], NOW)
    at_start = multiplied_points(7, [boost], datetime(2026, 6, 1, tzinfo=UTC))
    at_end = multiplied_points(7, [boost], datetime(2026, 7, 1, tzinfo=UTC))
    # Then the window is [valid_from, valid_until) and 10.5 rounds down to 10
    assert inside == (10, boost)
    assert at_start == (10, boost)
    assert at_end == (7, None)


def test_multipliers_do_not_stack_the_highest_live_one_applies() -> None:
    # Given three offers: x2, x3 and an inactive x5
    offers = [offer(id="off_a"), offer(id="off_b", multiplier=Decimal(3))]
    offers.append(offer(id="off_c", multiplier=Decimal(5), active=False))
    # When a purchase earning 10 points is made
    points, applied = multiplied_points(10, offers, NOW)
    # Then only x3 applies
    assert (points, applied and applied.id) == (30, "off_b")


def test_nothing_multiplies_zero_points_or_fixed_point_offers() -> None:
    assert multiplied_points(0, [offer()], NOW) == (0, None)
    assert multiplied_points(10, [offer(multiplier=None, points=50)], NOW) == (10, None)


def test_each_offer_type_takes_its_own_fields() -> None:
    # Given offers of each type with a missing or a foreign field
    bad = [
        offer(multiplier=None),
        offer(points=10),
        offer(type=OfferType.DISCOUNT, multiplier=None, percent=None),
        offer(type=OfferType.DISCOUNT, multiplier=None, amount=Decimal(5)),
        offer(type=OfferType.GIFT, multiplier=None),
    ]
    # When they are checked, then each is refused naming a field
    for candidate in bad:
        with pytest.raises(InvalidInput) as refused:
            candidate.check_shape()
        assert refused.value.issues
    offer(type=OfferType.DISCOUNT, multiplier=None, percent=Decimal(10)).check_shape()


def test_a_coupon_expires_with_its_days_or_the_offer_whichever_is_first() -> None:
    short = offer(multiplier=None, points=10, coupon_days=3)
    long = offer(multiplier=None, points=10, coupon_days=60)
    assert short.coupon_expiry(NOW) == NOW + timedelta(days=3)
    assert long.coupon_expiry(NOW) == datetime(2026, 7, 1, tzinfo=UTC)
    assert offer(valid_until=None).coupon_expiry(NOW) is None


def test_coupon_codes_are_ten_crockford_characters_and_read_forgivingly() -> None:
    # Given many new codes
    codes = {new_coupon_code() for _ in range(2000)}
    # Then they are distinct, of the alphabet, and typed variants read back to them
    assert len(codes) == 2000
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert normalise_code("abcde-fgh1o") == "ABCDEFGH10"
    assert normalise_code("ABCDEFGHIL") == "ABCDEFGH11"
    assert normalise_code("ABCDEFGHU1") is None
    assert normalise_code("short") is None


def test_a_coupon_is_redeemed_once_and_a_retry_for_the_same_order_is_no_change() -> None:
    # Given a coupon redeemed for order o-1 and one that expired
    issued = Coupon(
        "ABCDEFGH10", "off_1", OfferType.DISCOUNT, "cus_1", None, NOW, NOW + timedelta(days=1)
    )
    used = replace(issued, redeemed_at=NOW, order_id="o-1")
    old = replace(issued, expires_at=NOW - timedelta(seconds=1))
    # Then
    assert issued.check_redeemable("o-1", NOW) is True
    assert used.check_redeemable("o-1", NOW) is False
    with pytest.raises(CouponUnusable) as other_order:
        used.check_redeemable("o-2", NOW)
    with pytest.raises(CouponUnusable) as expired:
        old.check_redeemable("o-1", NOW)
    assert (other_order.value.reason, expired.value.reason) == ("redeemed", "expired")
    assert [c.status(NOW) for c in (issued, used, old)] == [
        CouponStatus.VALID,
        CouponStatus.REDEEMED,
        CouponStatus.EXPIRED,
    ]


def test_a_reward_is_listed_for_tiers_at_or_above_its_own_within_validity() -> None:
    config = LoyaltyConfig()
    silver = reward(tier_required="silver")
    assert not silver.is_listed_for("member", config, NOW)
    assert silver.is_listed_for("gold", config, NOW)
    assert not reward(stock=0).is_listed_for("member", config, NOW)
    assert not reward(valid_until=NOW).is_listed_for("member", config, NOW)
    with pytest.raises(RewardUnavailable) as early:
        reward(valid_from=NOW + timedelta(seconds=1)).check_redeemable(NOW)
    assert early.value.reason == "not_yet_valid"
