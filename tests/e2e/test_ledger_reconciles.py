"""The ledger always reconciles: random sequences of purchases, refunds, redemptions,
adjustments, batches (grouped with another customer's purchases), clock moves past expiry
and concurrent bursts, run through the services against DynamoDB Local (the engine that
decides transaction conflicts)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.dal import loyalty as repository
from chalicelib.domain.customers import CustomerChanges
from chalicelib.domain.errors import InsufficientPoints, InvalidInput, NotFound
from chalicelib.domain.interactions import BatchItem, InteractionDraft, InteractionType
from chalicelib.domain.loyalty import tier_for, tier_rank
from chalicelib.domain.tenancy import Plan, TenantId
from chalicelib.domain.tenant_config import LoyaltyConfig
from chalicelib.services import customers, loyalty, loyalty_jobs, tenants
from chalicelib.settings import reset_settings
from devtools.stage import stage_environment
from tests.e2e.conftest import LocalStack

ACTOR = "key_property"
START = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
CONFIG = LoyaltyConfig()


@pytest.fixture(scope="module")
def tenant(stack: LocalStack) -> Iterator[TenantId]:
    """The services pointed straight at the stack's DynamoDB Local, and one tenant."""
    saved = dict(os.environ)
    os.environ.update(stage_environment("local"))
    os.environ.update(
        {
            "DYNAMODB_ENDPOINT": f"http://127.0.0.1:{stack.dynamodb_port}",
            "CURSOR_SECRET": "property-test-cursor-secret-" + "z" * 32,
        }
    )
    reset_settings()
    created, _ = tenants.create_tenant("Property", Plan.ENTERPRISE)
    yield created.id
    os.environ.clear()
    os.environ.update(saved)
    reset_settings()


@dataclass
class Customer:
    """A customer under test: its id, the clock, its orders and the tiers it reached."""

    id: str
    now: datetime = START
    orders: list[str] = field(default_factory=list)
    best_tier_rank: int = 0


def _purchase(tenant: TenantId, who: Customer, amount: int) -> None:
    order_id = f"{who.id}-o{len(who.orders)}-{amount}-{os.urandom(3).hex()}"
    draft = InteractionDraft(
        type=InteractionType.PURCHASE,
        occurred_at=who.now,
        details={"amount": str(amount), "currency": "EUR", "order_id": order_id},
    )
    loyalty.record_interaction(tenant, who.id, draft, ACTOR, None, now=who.now)
    who.orders.append(order_id)


def _batch(tenant: TenantId, who: Customer, amounts: list[int]) -> None:
    """Purchases of `who` in one batch, each turn grouped with a purchase of a customer of
    its own (so the transactions hold parts of two customers)."""
    neighbour = customers.create_customer(
        tenant, Plan.ENTERPRISE, CustomerChanges(fields={"name": "N"})
    )
    items: list[BatchItem] = []
    for amount in amounts:
        for customer_id in (who.id, neighbour.id):
            order_id = f"{customer_id}-b{len(items)}-{amount}-{os.urandom(3).hex()}"
            draft = InteractionDraft(
                type=InteractionType.PURCHASE,
                occurred_at=who.now,
                details={"amount": str(amount), "currency": "EUR", "order_id": order_id},
            )
            items.append(BatchItem(draft=draft, customer_id=customer_id))
            if customer_id == who.id:
                who.orders.append(order_id)
    result = loyalty.record_batch(tenant, items, ACTOR, None, max_items=len(items), now=who.now)
    assert result.created == len(items), result.items


def _refund(tenant: TenantId, who: Customer, pick: int, percent: int) -> None:
    if not who.orders:
        return
    order = repository.get_order(tenant, who.orders[pick % len(who.orders)])
    assert order is not None
    left = order.amount - order.refunded_amount
    amount = (left * percent / 100).quantize(Decimal("0.01"))
    if amount <= 0:
        return
    draft = InteractionDraft(
        type=InteractionType.REFUND,
        occurred_at=who.now,
        details={"order_id": order.order_id, "amount": str(amount)},
    )
    loyalty.record_interaction(tenant, who.id, draft, ACTOR, None, now=who.now)


def _advance(tenant: TenantId, who: Customer, days: int) -> None:
    """Move the clock, running the daily job on every day a lot of this customer falls due
    (the days in between would find nothing for it)."""
    account = repository.get_account(tenant, who.id)
    later = who.now + timedelta(days=days)
    due = sorted(d for d in (account.lots if account else {}) if d <= later.date())
    for day in due:
        loyalty_jobs.expire_lots(tenant, day, datetime.combine(day, who.now.timetz()))
    who.now = later


def _apply(tenant: TenantId, who: Customer, step: tuple[Any, ...]) -> None:
    kind = step[0]
    try:
        if kind == "purchase":
            _purchase(tenant, who, step[1])
        elif kind == "refund":
            _refund(tenant, who, step[1], step[2])
        elif kind == "batch":
            _batch(tenant, who, step[1])
        elif kind == "redeem":
            loyalty.redeem_points(tenant, who.id, step[1], "r", None, ACTOR, None, now=who.now)
        elif kind == "adjust":
            loyalty.adjust_points(tenant, who.id, step[1], "a", None, ACTOR, None, now=who.now)
        elif kind == "advance":
            _advance(tenant, who, step[1])
        elif kind == "burst":
            with ThreadPoolExecutor(max_workers=len(step[1])) as pool:
                list(pool.map(lambda s: _apply(tenant, who, s), step[1]))
    except (InsufficientPoints, InvalidInput, NotFound):
        pass


def _check(tenant: TenantId, who: Customer) -> None:
    account = repository.get_account(tenant, who.id)
    if account is None:
        return
    ledger = list(repository.iter_ledger(tenant, who.id))
    credits = sum(e.points for e in ledger if e.points > 0)
    debits = -sum(e.points for e in ledger if e.points < 0)
    spent = account.redeemed + account.reversed + account.deducted
    assert sum(e.points for e in ledger) == account.balance
    assert credits == account.balance + account.expired + spent
    assert debits == account.expired + spent
    assert all(points > 0 for points in account.lots.values())
    assert account.clawback_pending >= 0
    assert not ledger or ledger[-1].balance_after == account.available(who.now.date())
    reached = tier_rank(CONFIG, tier_for(CONFIG, Decimal(account.lifetime_earned)).name)
    who.best_tier_rank = max(who.best_tier_rank, reached)
    assert tier_rank(CONFIG, account.tier) == who.best_tier_rank


_amounts = st.integers(min_value=0, max_value=3_000)
_simple = st.one_of(
    st.tuples(st.just("purchase"), _amounts),
    st.tuples(st.just("redeem"), st.integers(min_value=1, max_value=2_000)),
    st.tuples(st.just("adjust"), st.integers(min_value=-500, max_value=500).filter(bool)),
    st.tuples(st.just("batch"), st.lists(_amounts, min_size=1, max_size=3)),
)
_step = st.one_of(
    _simple,
    st.tuples(
        st.just("refund"), st.integers(min_value=0, max_value=9), st.sampled_from([25, 50, 100])
    ),
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=400)),
    st.tuples(st.just("burst"), st.lists(_simple, min_size=2, max_size=6)),
)


@settings(
    max_examples=12,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_step, min_size=1, max_size=10))
def test_the_ledger_reconciles_after_every_step(
    tenant: TenantId, steps: list[tuple[Any, ...]]
) -> None:
    created = customers.create_customer(
        tenant, Plan.ENTERPRISE, CustomerChanges(fields={"name": "P"})
    )
    who = Customer(created.id)

    for step in steps:
        _apply(tenant, who, step)
        _check(tenant, who)
