"""Rewards and coupons (issue 15): the service functions in process on the harness's
DynamoDB Local. `python -m benchmarks.run rewards [--quick]`. What it measures:
- the DynamoDB calls one reward redemption and one coupon redemption make, warm (the
  reward's definition and the loyalty configuration cached, as on a warm function),
  counted at botocore;
- their latency against a points redemption (`POST …/points/redeem`, the baseline: one
  account read and one transaction) measured in the same run, interleaved.
DynamoDB Local is not DynamoDB: absolute times show this machine, the ratios and the call
counts are what carry over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks.context import Context
from benchmarks.loyalty import _describe, _install_counter, _new_customer, _summary, counting
from benchmarks.report import Check, Section, Table

ACTOR = "key_benchmark"
MAX_ROUND_TRIPS = 2


def _rewarded_customer(tenant: Any, points: int) -> str:
    from chalicelib.services import loyalty

    customer = _new_customer(tenant, "Rewards")
    loyalty.adjust_points(tenant, customer, points, "bench", None, ACTOR, None)
    return customer


def _operations(tenant: Any, redemptions: int) -> dict[str, Callable[[], object]]:
    """Three operations, each on its own customer: a points redemption (the baseline), a
    reward redemption and a discount coupon redemption (a fresh coupon each time)."""
    from decimal import Decimal

    from chalicelib.domain.offers import OfferType
    from chalicelib.services import loyalty, offers, rewards
    from chalicelib.services.offers import OfferDraft
    from chalicelib.services.rewards import RewardDraft

    baseline = _rewarded_customer(tenant, redemptions * 10)
    redeemer = _rewarded_customer(tenant, redemptions * 10)
    holder = _new_customer(tenant, "Coupons")
    reward = rewards.create_reward(
        tenant,
        RewardDraft("Mug", None, 1, redemptions * 10, None, None, None, None, True),
    )
    discount = offers.create_offer(
        tenant,
        OfferDraft(
            name="Ten off",
            description=None,
            type=OfferType.DISCOUNT,
            points=None,
            multiplier=None,
            percent=Decimal(10),
            amount=None,
            currency=None,
            gift=None,
            coupon_days=None,
            valid_from=None,
            valid_until=None,
            active=True,
        ),
    )
    codes = [offers.issue_coupon(tenant, discount.id, holder).code for _ in range(redemptions)]
    orders = iter(range(redemptions))

    def points() -> object:
        return loyalty.redeem_points(tenant, baseline, 1, "bench", None, ACTOR, None)

    def reward_redemption() -> object:
        return rewards.redeem_reward(tenant, redeemer, reward.id, ACTOR, None)

    def coupon_redemption() -> object:
        index = next(orders)
        return offers.redeem_coupon(tenant, codes[index], f"o-{index}", None, None, ACTOR)

    return {
        "points redemption (baseline)": points,
        "reward redemption": reward_redemption,
        "coupon redemption": coupon_redemption,
    }


def run(context: Context) -> Section:
    """Round trips and latency of a reward and a coupon redemption."""
    from chalicelib.domain.tenancy import tenant_id

    stack = context.stack()
    tenant = tenant_id(stack.tenant_id)
    _install_counter()
    repeat = context.repeat(200, 20)
    section = Section(
        title="Rewards and coupons",
        method=(
            "The rewards and offers service functions in process on the harness's DynamoDB "
            "Local (in memory), DynamoDB calls counted at botocore; warm: each operation runs "
            "3 times before it is counted and timed. The three operations are interleaved, "
            f"{repeat} repetitions each; the baseline is a points redemption."
        ),
    )
    operations = _operations(tenant, repeat + 4)
    calls = {}
    for name, action in operations.items():
        for _ in range(3):
            action()
        with counting() as seen:
            action()
        calls[name] = seen
    samples: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(repeat):
        for name, action in operations.items():
            started = time.perf_counter()
            action()
            samples[name].append((time.perf_counter() - started) * 1000)
    baseline = _summary(samples["points redemption (baseline)"])
    rows = []
    for name in operations:
        summary = _summary(samples[name])
        rows.append(
            (
                name,
                f"{sum(calls[name].values())}: {_describe(calls[name])}",
                f"{summary.p50:.1f}",
                f"{summary.p99:.1f}",
                f"{summary.p50 / baseline.p50:.2f}x",
            )
        )
    section.tables.append(
        Table(
            ("operation", "DynamoDB calls", "p50 ms", "p99 ms", "p50 vs baseline"),
            rows,
            "Calls counted on one warm request; times over the interleaved repetitions.",
        )
    )
    for name in ("reward redemption", "coupon redemption"):
        seen = calls[name]
        section.checks.append(
            Check(
                f"{name}: round trips",
                f"{sum(seen.values())}: {_describe(seen)}",
                f"≤ {MAX_ROUND_TRIPS}",
                sum(seen.values()) <= MAX_ROUND_TRIPS,
            )
        )
    return section
