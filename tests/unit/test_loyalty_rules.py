"""Points rules without I/O: earning, lots, redemption order, expiry, refunds, clawback, tiers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.errors import InsufficientPoints
from chalicelib.domain.loyalty import (
    AccountChange,
    EntryType,
    PointsAccount,
    next_evaluation,
    next_tier,
    purchase_points,
    refund_reversal,
    tier_for,
)
from chalicelib.domain.tenant_config import LoyaltyConfig, Rounding, TierBasis, TierRule

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DEFAULTS = LoyaltyConfig()


def _change(
    account: PointsAccount, now: datetime = NOW, config: LoyaltyConfig = DEFAULTS
) -> AccountChange:
    return AccountChange(account, config, now, "key_test")


def test_a_purchase_earns_one_point_per_whole_unit_rounded_down_by_default() -> None:
    assert purchase_points(Decimal("25.99"), DEFAULTS, "member") == 25
    assert purchase_points(Decimal("0.99"), DEFAULTS, "member") == 0


def test_rate_multiplier_and_rounding_come_from_the_configuration() -> None:
    config = LoyaltyConfig(
        points_per_currency_unit=Decimal(2),
        rounding=Rounding.NEAREST,
        tiers=[
            TierRule(name="member", threshold=Decimal(0)),
            TierRule(name="gold", threshold=Decimal(100), multiplier=Decimal("1.5")),
        ],
    )

    assert purchase_points(Decimal("10.25"), config, "member") == 21
    assert purchase_points(Decimal("10.25"), config, "gold") == 31


def test_earned_points_form_a_lot_that_expires_after_the_validity() -> None:
    change = _change(PointsAccount())

    change.earn(100, "int_1")

    account = change.result()
    expiry = NOW.date() + timedelta(days=365)
    assert account.lots == {expiry: 100}
    assert account.available(expiry - timedelta(days=1)) == 100
    assert account.available(expiry) == 0
    assert [(e.type, e.points, e.balance_after) for e in change.entries] == [
        (EntryType.EARN, 100, 100)
    ]


def test_earnings_on_one_day_share_one_lot() -> None:
    change = _change(PointsAccount())

    change.earn(10, "int_1")
    change.earn(5, "int_2")

    assert len(change.result().lots) == 1 and change.result().balance == 15


def test_redemption_consumes_the_lots_that_expire_first() -> None:
    soon, later = date(2027, 1, 1), date(2027, 6, 1)
    change = _change(PointsAccount(lots={later: 50, soon: 30}))

    change.redeem(40, "voucher", None)

    assert change.result().lots == {later: 40}
    assert change.entries[-1].points == -40 and change.entries[-1].balance_after == 40


def test_redeeming_more_than_available_raises_and_counts_no_expired_lot() -> None:
    change = _change(PointsAccount(lots={NOW.date(): 100, date(2027, 1, 1): 5}))

    with pytest.raises(InsufficientPoints):
        change.redeem(6, "voucher", None)


def test_expire_due_moves_past_lots_into_one_expire_entry() -> None:
    account = PointsAccount(lots={date(2026, 11, 1): 10, NOW.date(): 5, date(2027, 1, 1): 7})
    change = _change(account)

    expired = change.expire_due()

    assert expired == 15
    assert change.result().lots == {date(2027, 1, 1): 7}
    assert change.result().expired == 15
    assert [(e.type, e.points, e.balance_after) for e in change.entries] == [
        (EntryType.EXPIRE, -15, 7)
    ]


def test_refunds_reverse_points_in_proportion_and_exactly_in_full() -> None:
    points, amount = 99, Decimal("100")

    first = refund_reversal(points, amount, Decimal(0), Decimal("33.33"))
    second = refund_reversal(points, amount, Decimal("33.33"), Decimal("33.33"))
    rest = refund_reversal(points, amount, Decimal("66.66"), Decimal("33.34"))

    assert (first, second) == (32, 33)
    assert first + second + rest == points


def test_a_reversal_beyond_the_balance_leaves_a_clawback_settled_from_later_earnings() -> None:
    change = _change(PointsAccount(lots={date(2027, 1, 1): 10}))

    taken = change.reverse(25, "int_refund", "o-1")
    change.earn(40, "int_next")

    account = change.result()
    assert taken == 10
    assert account.clawback_pending == 0
    assert account.balance == 25
    assert [(e.type, e.points) for e in change.entries] == [
        (EntryType.REVERSE, -10),
        (EntryType.EARN, 40),
        (EntryType.REVERSE, -15),
    ]
    assert sum(e.points for e in change.entries) == account.balance - 10


def test_a_negative_adjustment_cannot_overdraw() -> None:
    change = _change(PointsAccount(lots={date(2027, 1, 1): 3}))

    with pytest.raises(InsufficientPoints):
        change.adjust(-4, "correction", None)
    change.adjust(-3, "correction", None)

    assert change.result().balance == 0 and change.result().deducted == 3


def test_default_tiers_on_lifetime_points() -> None:
    assert tier_for(DEFAULTS, Decimal(999)).name == "member"
    assert tier_for(DEFAULTS, Decimal(1000)).name == "silver"
    assert tier_for(DEFAULTS, Decimal(20000)).name == "platinum"
    assert next_tier(DEFAULTS, Decimal(4000)) == (DEFAULTS.tiers[2], Decimal(1000))
    assert next_tier(DEFAULTS, Decimal(20000)) is None


def test_crossing_a_threshold_upgrades_in_the_same_change() -> None:
    change = _change(PointsAccount(lifetime_earned=990, tier="member"))

    change.earn(10, "int_1")
    change.upgrade_tier()

    assert change.result().tier == "silver"
    assert change.entries[-1].type is EntryType.TIER_CHANGE
    assert change.entries[-1].tier == "silver" and change.entries[-1].points == 0


def test_rolling_spend_tiers_are_reevaluated_when_spend_leaves_the_window() -> None:
    config = LoyaltyConfig(
        tier_basis=TierBasis.ROLLING_12_MONTH_SPEND,
        tiers=[
            TierRule(name="member", threshold=Decimal(0)),
            TierRule(name="gold", threshold=Decimal(500)),
        ],
    )
    purchase_day = datetime(2026, 3, 10, tzinfo=UTC)
    change = _change(PointsAccount(), purchase_day, config)
    change.record_spend(Decimal(600), purchase_day.date())
    change.upgrade_tier()
    upgraded = change.result()
    assert upgraded.tier == "gold"
    assert upgraded.tier_evaluation == date(2027, 3, 1)

    later = _change(upgraded, datetime(2027, 3, 1, tzinfo=UTC), config)
    later.reevaluate_tier()

    assert later.result().tier == "member"
    assert later.entries[-1].type is EntryType.TIER_CHANGE
    assert next_evaluation(later.result(), date(2027, 3, 1)) is None
