"""Points, stock and coupons always reconcile (hypothesis, stateful, on moto).

Any sequence of reward redemptions (affordable or not, in stock or not, within the
per-customer limit or not), coupon issues and coupon redemptions (for the same order again,
or another) leaves: each customer's balance = its points granted + the bonus coupons it
redeemed - the cost of its successful redemptions; each reward's stock + its redemptions =
its initial stock; and each coupon redeemed at most once, for the first order that
redeemed it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from chalicelib.dal import offers as offer_repository
from chalicelib.dal import rewards as reward_repository
from chalicelib.domain.errors import DomainError
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services import loyalty, offers, rewards
from tests.support.api import Api

ACTOR = "key_machine"
INITIAL_STOCK = 3
BONUS = 40


class RewardsLedger(RuleBasedStateMachine):
    """Bound to a platform client by subclassing (`platform`): each run makes a tenant."""

    platform: ClassVar[Api]
    customers = Bundle("customers")
    coupons = Bundle("coupons")

    @initialize()
    def a_tenant_with_two_rewards_and_two_offers(self) -> None:
        api = self.platform.create_tenant("Machine")
        assert api.tenant_id is not None
        self.api = api
        self.tenant: TenantId = tenant_id(api.tenant_id)
        self.rewards: dict[str, int] = {}
        for cost, limit in ((30, None), (70, 2)):
            body: dict[str, Any] = {"name": "r", "points_cost": cost, "stock": INITIAL_STOCK}
            if limit:
                body["per_customer_limit"] = limit
            self.rewards[api.post("/v1/rewards", body).json["id"]] = cost
        self.discount = api.post(
            "/v1/offers", {"name": "d", "type": "discount", "percent": "5"}
        ).json["id"]
        self.bonus = api.post(
            "/v1/offers", {"name": "b", "type": "bonus_points", "points": BONUS}
        ).json["id"]
        self.expected_balance: dict[str, int] = {}
        self.redeemed_by_reward: dict[str, int] = dict.fromkeys(self.rewards, 0)
        self.coupon_orders: dict[str, str | None] = {}
        self.coupon_owner: dict[str, tuple[str, bool]] = {}

    @rule(target=customers, points=st.integers(min_value=0, max_value=200))
    def a_customer_with_points(self, points: int) -> str:
        customer = str(self.api.create_customer(name="C")["id"])
        if points:
            loyalty.adjust_points(self.tenant, customer, points, "grant", None, ACTOR, None)
        self.expected_balance[customer] = points
        return customer

    @rule(customer=customers, pick=st.integers(min_value=0, max_value=1))
    def redeem_a_reward(self, customer: str, pick: int) -> None:
        reward_id = sorted(self.rewards)[pick]
        try:
            rewards.redeem_reward(self.tenant, customer, reward_id, ACTOR, None)
        except DomainError:
            return
        self.expected_balance[customer] -= self.rewards[reward_id]
        self.redeemed_by_reward[reward_id] += 1

    @rule(target=coupons, customer=customers, bonus=st.booleans())
    def issue_a_coupon(self, customer: str, bonus: bool) -> str:
        offer = self.bonus if bonus else self.discount
        code = offers.issue_coupon(self.tenant, offer, customer).code
        self.coupon_orders[code] = None
        self.coupon_owner[code] = (customer, bonus)
        return code

    @rule(code=coupons, order=st.sampled_from(["o-1", "o-2"]))
    def redeem_a_coupon(self, code: str, order: str) -> None:
        try:
            offers.redeem_coupon(self.tenant, code, order, None, None, ACTOR)
        except DomainError:
            assert self.coupon_orders[code] not in (None, order)
            return
        first = self.coupon_orders[code]
        assert first in (None, order)
        if first is None:
            self.coupon_orders[code] = order
            customer, bonus = self.coupon_owner[code]
            self.expected_balance[customer] += BONUS if bonus else 0

    @invariant()
    def points_reconcile(self) -> None:
        for customer, balance in getattr(self, "expected_balance", {}).items():
            assert loyalty.points_summary(self.tenant, customer).balance == balance

    @invariant()
    def stock_reconciles(self) -> None:
        for reward_id, redeemed in getattr(self, "redeemed_by_reward", {}).items():
            stored = reward_repository.get_reward(self.tenant, reward_id)
            assert stored is not None
            assert stored.stock is not None
            assert (stored.stock + stored.redeemed_count, stored.redeemed_count) == (
                INITIAL_STOCK,
                redeemed,
            )

    @invariant()
    def coupons_are_redeemed_at_most_once(self) -> None:
        for code, order in getattr(self, "coupon_orders", {}).items():
            stored = offer_repository.get_coupon(self.tenant, code)
            assert stored is not None and stored.order_id == order


def test_points_stock_and_coupons_always_reconcile(platform: Api) -> None:
    run_state_machine_as_test(
        type("BoundLedger", (RewardsLedger,), {"platform": platform}),
        settings=settings(
            max_examples=6,
            stateful_step_count=14,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
