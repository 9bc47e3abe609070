"""The merge rules (issue 16): survivorship, consent, and points conserved by merge and by
merge followed by unmerge."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.customers import Address, Consent, Customer, UniqueField
from chalicelib.domain.errors import UnmergeRefused
from chalicelib.domain.loyalty import PointsAccount
from chalicelib.domain.merge import (
    claims_taken,
    merged_account,
    split_account,
    strictest_consent,
    surviving_profile,
    within_unmerge_window,
)
from chalicelib.domain.tenant_config import LoyaltyConfig

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
CONFIG = LoyaltyConfig()


def a_customer(customer_id: str, **fields: Any) -> Customer:
    return Customer(id=customer_id, created_at=NOW, updated_at=NOW, version=3, **fields)


def an_account(lots: dict[date, int], lifetime: int | None = None, **fields: Any) -> PointsAccount:
    earned = sum(lots.values()) if lifetime is None else lifetime
    return PointsAccount(lots=lots, lifetime_earned=earned, version=2, **fields)


def test_survivor_keeps_its_values_and_takes_only_what_it_lacks() -> None:
    # Given a survivor with a name and email, and a source with other values and a phone
    survivor = a_customer("cus_s", name="Ann Lee", email="ann@example.com")
    source = a_customer(
        "cus_a",
        name="A. Lee",
        email="lee@example.com",
        phone="+4930123456",
        address=Address(city="Berlin"),
    )

    # When they merge
    merged = surviving_profile(survivor, [source], NOW)

    # Then the survivor's own values stay and its empty ones are filled from the source
    assert (merged.id, merged.name, merged.email) == ("cus_s", "Ann Lee", "ann@example.com")
    assert merged.phone == "+4930123456"
    assert merged.address == Address(city="Berlin")
    assert merged.version == survivor.version
    assert merged.updated_at == NOW


def test_the_first_named_source_wins_an_empty_field() -> None:
    # Given a survivor without a birthday and two sources with different ones
    survivor = a_customer("cus_s")
    first = a_customer("cus_a", birthday=date(1990, 1, 2))
    second = a_customer("cus_b", birthday=date(1985, 5, 6), external_id="x-1")

    # When they merge in that order
    merged = surviving_profile(survivor, [first, second], NOW)

    # Then the first source's birthday and the second's external id are taken
    assert merged.birthday == date(1990, 1, 2)
    assert merged.external_id == "x-1"


def test_tags_are_united_and_attributes_merged_survivor_first() -> None:
    # Given overlapping tags and attributes
    survivor = a_customer("cus_s", tags=frozenset({"vip"}), attributes={"size": "M", "n": 1})
    source = a_customer("cus_a", tags=frozenset({"pos", "vip"}), attributes={"size": "L", "x": 2})

    # When they merge
    merged = surviving_profile(survivor, [source], NOW)

    # Then every tag is kept once and the survivor's attribute values win
    assert merged.tags == frozenset({"vip", "pos"})
    assert merged.attributes == {"size": "M", "n": 1, "x": 2}


@pytest.mark.parametrize(
    ("survivor_flags", "source_flags", "expected"),
    [
        ((True, True), (True, True), (True, True)),
        ((True, True), (False, True), (False, True)),
        ((False, False), (True, True), (False, False)),
        ((True, False), (False, True), (False, False)),
    ],
)
def test_consent_the_strictest_wins(
    survivor_flags: tuple[bool, bool], source_flags: tuple[bool, bool], expected: tuple[bool, bool]
) -> None:
    # Given two consents
    survivor = Consent(email_marketing=survivor_flags[0], sms_marketing=survivor_flags[1])
    source = Consent(email_marketing=source_flags[0], sms_marketing=source_flags[1])

    # When combined
    combined = strictest_consent([survivor, source])

    # Then a channel stays opted in only where both opted in
    assert (combined.email_marketing, combined.sms_marketing) == expected


def test_claims_taken_are_the_unique_values_the_survivor_gained() -> None:
    # Given a survivor with an email and a source with another email and a phone
    survivor = a_customer("cus_s", email="ann@example.com")
    source = a_customer("cus_a", email="lee@example.com", phone="+4930123456")

    # When they merge
    merged = surviving_profile(survivor, [source], NOW)

    # Then only the phone moves; the source's email stays the survivor's own
    assert claims_taken(survivor, merged) == {UniqueField.PHONE: "+4930123456"}


def test_merged_account_sums_lots_by_expiry_and_rederives_the_tier() -> None:
    # Given two accounts sharing one expiry date, neither lifetime reaching silver alone
    silver = CONFIG.tiers[1].threshold
    half = int(silver / 2) + 1
    shared, later = date(2026, 6, 1), date(2026, 9, 1)
    survivor = an_account({shared: 100}, lifetime=half, redeemed=5)
    source = an_account({shared: 50, later: 70}, lifetime=half, expired=7)

    # When merged
    merged = merged_account(survivor, [source], CONFIG, TODAY)

    # Then lots add per expiry, the counters are summed and the tier follows the lifetime
    assert merged.lots == {shared: 150, later: 70}
    assert merged.lifetime_earned == 2 * half
    assert (merged.redeemed, merged.expired) == (5, 7)
    assert merged.tier == CONFIG.tiers[1].name
    assert merged.version == survivor.version


def test_unmerge_is_refused_when_the_survivor_spent_the_brought_points() -> None:
    # Given a survivor that holds fewer points now than the source brought
    brought = an_account({date(2026, 6, 1): 300})
    current = an_account({date(2026, 6, 1): 120})

    # When / Then the split is refused, naming both numbers
    with pytest.raises(UnmergeRefused, match=r"300 points.*120"):
        split_account(current, brought, CONFIG, TODAY)


def test_unmerge_takes_spent_lots_from_the_latest_other_lots() -> None:
    # Given a source lot partly spent since the merge, and two other survivor lots
    early, middle, late = date(2026, 4, 1), date(2026, 6, 1), date(2026, 9, 1)
    brought = an_account({middle: 100})
    current = an_account({early: 50, middle: 30, late: 40})

    # When split
    split = split_account(current, brought, CONFIG, TODAY)

    # Then the source gets 30 from its own lot and the rest from the latest lots
    assert split.source.lots == {middle: 30, late: 40, early: 30}
    assert split.survivor.lots == {early: 20}


def test_the_unmerge_window_is_thirty_days() -> None:
    assert within_unmerge_window(NOW, NOW + timedelta(days=30))
    assert not within_unmerge_window(NOW, NOW + timedelta(days=30, seconds=1))


_lots = st.dictionaries(
    st.integers(min_value=1, max_value=60).map(lambda d: TODAY + timedelta(days=d)),
    st.integers(min_value=1, max_value=10_000),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(survivor_lots=_lots, source_lots=st.lists(_lots, min_size=1, max_size=3))
def test_merge_conserves_points(
    survivor_lots: dict[date, int], source_lots: list[dict[date, int]]
) -> None:
    # Given a survivor and several sources
    survivor = an_account(survivor_lots)
    sources = [an_account(lots) for lots in source_lots]

    # When merged
    merged = merged_account(survivor, sources, CONFIG, TODAY)

    # Then no point is lost or counted twice
    assert merged.balance == survivor.balance + sum(s.balance for s in sources)
    assert merged.lifetime_earned == survivor.lifetime_earned + sum(
        s.lifetime_earned for s in sources
    )


@settings(max_examples=200, deadline=None)
@given(
    survivor_lots=_lots,
    source_lots=_lots,
    spent=st.integers(min_value=0, max_value=30_000),
    spend=st.decimals(min_value=0, max_value=1000, places=2),
)
def test_merge_then_unmerge_conserves_points(
    survivor_lots: dict[date, int], source_lots: dict[date, int], spent: int, spend: Decimal
) -> None:
    # Given a merged account from which the survivor may have spent some points
    survivor = an_account(survivor_lots)
    source = an_account(source_lots, spend_by_month={"2026-02": spend})
    merged = merged_account(survivor, [source], CONFIG, TODAY)
    remaining = dict(merged.lots)
    to_spend = min(spent, merged.balance)
    for expiry in sorted(remaining):
        taken = min(to_spend, remaining[expiry])
        remaining[expiry] -= taken
        to_spend -= taken
    current = replace(merged, lots={e: p for e, p in remaining.items() if p})

    # When unmerged
    try:
        split = split_account(current, source, CONFIG, TODAY)
    except UnmergeRefused:
        # Then a refusal happens only when the survivor holds less than the source brought
        assert current.balance < source.balance
        return

    # Then the two balances add up to the merged balance and the source gets all it brought
    assert split.survivor.balance + split.source.balance == current.balance
    assert split.source.balance == source.balance
    assert split.source.lifetime_earned == source.lifetime_earned
    assert split.survivor.lifetime_earned == survivor.lifetime_earned
    assert all(points > 0 for points in split.survivor.lots.values())
    assert sum(split.survivor.spend_by_month.values(), Decimal(0)) == sum(
        survivor.spend_by_month.values(), Decimal(0)
    )
