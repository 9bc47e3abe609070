"""The reconciliation invariant on the pure rules, over many random histories (fast); the
same property runs against DynamoDB Local, with concurrency, in tests/e2e."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import InsufficientPoints
from chalicelib.domain.loyalty import (
    AccountChange,
    LedgerEntry,
    PointsAccount,
    purchase_points,
    tier_for,
    tier_rank,
)
from chalicelib.domain.tenant_config import LoyaltyConfig

CONFIG = LoyaltyConfig()
START = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)

_step = st.one_of(
    st.tuples(st.just("purchase"), st.integers(min_value=0, max_value=5_000)),
    st.tuples(st.just("reverse"), st.integers(min_value=1, max_value=3_000)),
    st.tuples(st.just("redeem"), st.integers(min_value=1, max_value=3_000)),
    st.tuples(st.just("adjust"), st.integers(min_value=-1_000, max_value=1_000).filter(bool)),
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=400)),
)


def _apply(change: AccountChange, step: tuple[Any, ...]) -> None:
    kind, value = step
    if kind == "purchase":
        change.earn(purchase_points(Decimal(value), CONFIG, change.account.tier), "int_x")
        change.record_spend(Decimal(value), change.today)
        change.upgrade_tier()
    elif kind == "reverse":
        change.reverse(value, "int_r", "o-1")
    elif kind == "redeem":
        change.redeem(value, "r", None)
    elif kind == "adjust":
        change.adjust(value, "a", None)


@settings(max_examples=300, deadline=None, database=None)
@given(steps=st.lists(_step, min_size=1, max_size=40))
def test_every_history_reconciles(steps: list[tuple[Any, ...]]) -> None:
    account, now, ledger, best = PointsAccount(), START, list[LedgerEntry](), 0
    for step in steps:
        if step[0] == "advance":
            now += timedelta(days=step[1])
            continue
        change = AccountChange(account, CONFIG, now, "key_x")
        change.expire_due()
        try:
            _apply(change, step)
        except InsufficientPoints:
            change = AccountChange(account, CONFIG, now, "key_x")
            change.expire_due()
        account, ledger = change.result(), ledger + change.entries

        spent = account.redeemed + account.reversed + account.deducted
        assert sum(e.points for e in ledger) == account.balance
        assert sum(e.points for e in ledger if e.points > 0) == (
            account.balance + account.expired + spent
        )
        assert account.balance == account.available(now.date()) >= 0
        assert not ledger or ledger[-1].balance_after == account.balance
        best = max(best, tier_rank(CONFIG, tier_for(CONFIG, Decimal(account.lifetime_earned)).name))
        assert tier_rank(CONFIG, account.tier) == best
