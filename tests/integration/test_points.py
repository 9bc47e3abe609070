"""Points through the API and the services (moto): redeem, adjust, refunds, expiry, tiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.dal import loyalty as repository
from chalicelib.domain.clock import utc_now
from chalicelib.domain.interactions import InteractionDraft, InteractionType
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.domain.tenant_config import LoyaltyConfig, TenantConfig, TierBasis, TierRule
from chalicelib.services import loyalty, loyalty_jobs, tenant_config
from tests.support.api import Api

ACTOR = "key_test"


def _customer(api: Api) -> str:
    return str(api.create_customer(name="Ann")["id"])


def _tenant(api: Api) -> TenantId:
    assert api.tenant_id is not None
    return tenant_id(api.tenant_id)


def _buy(api: Api, customer: str, amount: str, order_id: str) -> dict[str, Any]:
    answer = api.post(
        f"/v1/customers/{customer}/interactions",
        {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order_id},
    )
    assert answer.status == 201, answer.text
    return dict(answer.json)


def _ledger(api: Api, customer: str) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/customers/{customer}/points/transactions?limit=100")
    assert answer.status == 200, answer.text
    return list(answer.json["items"])


def _points(api: Api, customer: str) -> dict[str, Any]:
    answer = api.get(f"/v1/customers/{customer}/points")
    assert answer.status == 200, answer.text
    return dict(answer.json)


def _configure(tenant: TenantId, loyalty_config: LoyaltyConfig) -> None:
    tenant_config.replace_config(tenant, TenantConfig(loyalty=loyalty_config), 0)


def _purchase_at(
    tenant: TenantId, customer: str, amount: str, order_id: str, when: datetime
) -> None:
    draft = InteractionDraft(
        type=InteractionType.PURCHASE,
        occurred_at=when,
        details={"amount": amount, "currency": "EUR", "order_id": order_id},
    )
    loyalty.record_interaction(tenant, customer, draft, ACTOR, None, now=when)


def test_redeeming_spends_points_and_records_the_entry(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    _buy(tenant_a, customer, "120", "o-1")

    answer = tenant_a.post(
        f"/v1/customers/{customer}/points/redeem",
        {"points": 50, "reason": "voucher", "reference": "v-9"},
    )

    assert answer.status == 201, answer.text
    assert answer.json["balance"] == 70
    [entry] = answer.json["entries"]
    assert (entry["type"], entry["points"], entry["balance_after"]) == ("redeem", -50, 70)
    assert entry["reference"] == "v-9" and entry["actor"].startswith("key_")
    assert _points(tenant_a, customer)["balance"] == 70
    assert [e["type"] for e in _ledger(tenant_a, customer)] == ["redeem", "earn"]


def test_redeeming_more_than_the_balance_is_409_insufficient_points(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    _buy(tenant_a, customer, "10", "o-1")

    answer = tenant_a.post(
        f"/v1/customers/{customer}/points/redeem", {"points": 11, "reason": "voucher"}
    )

    assert answer.problem(409)["type"].endswith("insufficient-points")
    assert _points(tenant_a, customer)["balance"] == 10
    assert len(_ledger(tenant_a, customer)) == 1


def test_a_retried_redemption_spends_once(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    _buy(tenant_a, customer, "10", "o-1")
    path = f"/v1/customers/{customer}/points/redeem"
    body = {"points": 4, "reason": "voucher"}

    first = tenant_a.post(path, body, headers={"Idempotency-Key": "r-1"})
    again = tenant_a.post(path, body, headers={"Idempotency-Key": "r-1"})

    assert first.status == again.status == 201 and again.json == first.json
    assert _points(tenant_a, customer)["balance"] == 6


def test_a_failed_redemption_can_be_retried_with_its_key(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    path = f"/v1/customers/{customer}/points/redeem"
    body = {"points": 5, "reason": "voucher"}
    tenant_a.post(path, body, headers={"Idempotency-Key": "r-2"}).problem(409)
    _buy(tenant_a, customer, "10", "o-1")

    answer = tenant_a.post(path, body, headers={"Idempotency-Key": "r-2"})

    assert answer.status == 201 and answer.json["balance"] == 5


def test_adjustments_add_and_deduct_but_never_overdraw(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    path = f"/v1/customers/{customer}/points/adjust"

    added = tenant_a.post(path, {"points": 30, "reason": "goodwill"})
    deducted = tenant_a.post(path, {"points": -10, "reason": "correction"})
    too_much = tenant_a.post(path, {"points": -21, "reason": "correction"})
    zero = tenant_a.post(path, {"points": 0, "reason": "nothing"})

    assert (added.status, deducted.status) == (201, 201)
    assert deducted.json["balance"] == 20
    assert too_much.problem(409)["type"].endswith("insufficient-points")
    zero.problem(422)
    assert [(e["type"], e["points"]) for e in _ledger(tenant_a, customer)] == [
        ("adjust", -10),
        ("adjust", 30),
    ]


def test_points_of_unknown_customers_are_404(tenant_a: Api) -> None:
    tenant_a.get("/v1/customers/cus_00000000000000000000000000/points").problem(404)
    tenant_a.post(
        "/v1/customers/cus_00000000000000000000000000/points/redeem",
        {"points": 1, "reason": "r"},
    ).problem(404)


def test_the_ledger_is_newest_first_and_paged(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    for n in range(5):
        _buy(tenant_a, customer, str(n + 1), f"o-{n}")
    path = f"/v1/customers/{customer}/points/transactions"

    first = tenant_a.get(f"{path}?limit=3").json
    second = tenant_a.get(f"{path}?limit=3&cursor={first['next_cursor']}").json

    entries = first["items"] + second["items"]
    assert [e["points"] for e in entries] == [5, 4, 3, 2, 1]
    assert [e["balance_after"] for e in entries] == [15, 10, 6, 3, 1]
    assert second["next_cursor"] is None


def test_a_partial_refund_reverses_points_in_proportion(tenant_a: Api) -> None:
    customer = _customer(tenant_a)
    _buy(tenant_a, customer, "200", "o-1")
    path = f"/v1/customers/{customer}/interactions"

    refund = tenant_a.post(path, {"type": "refund", "order_id": "o-1", "amount": "50"})
    rest = tenant_a.post(path, {"type": "refund", "order_id": "o-1"})
    beyond = tenant_a.post(path, {"type": "refund", "order_id": "o-1", "amount": "1"})

    assert refund.status == 201, refund.text
    assert refund.json["points"] == -50 and rest.json["points"] == -150
    assert rest.json["amount"] == "150"
    beyond.problem(422)
    assert _points(tenant_a, customer)["balance"] == 0
    assert [(e["type"], e["points"]) for e in _ledger(tenant_a, customer)] == [
        ("reverse", -150),
        ("reverse", -50),
        ("earn", 200),
    ]


def test_a_refund_of_spent_points_leaves_a_clawback_settled_by_later_earnings(
    tenant_a: Api,
) -> None:
    customer = _customer(tenant_a)
    _buy(tenant_a, customer, "100", "o-1")
    tenant_a.post(f"/v1/customers/{customer}/points/redeem", {"points": 80, "reason": "gift"})

    refund = tenant_a.post(
        f"/v1/customers/{customer}/interactions", {"type": "refund", "order_id": "o-1"}
    )
    after_refund = _points(tenant_a, customer)
    _buy(tenant_a, customer, "100", "o-2")

    assert refund.json["points"] == -100
    assert after_refund["balance"] == 0 and after_refund["clawback_pending"] == 80
    settled = _points(tenant_a, customer)
    assert settled["balance"] == 20 and settled["clawback_pending"] == 0
    ledger = _ledger(tenant_a, customer)
    assert [(e["type"], e["points"]) for e in ledger] == [
        ("reverse", -80),
        ("earn", 100),
        ("reverse", -20),
        ("redeem", -80),
        ("earn", 100),
    ]
    assert sum(e["points"] for e in ledger) == settled["balance"]


def test_a_refund_of_an_unknown_order_is_404(tenant_a: Api) -> None:
    customer = _customer(tenant_a)

    answer = tenant_a.post(
        f"/v1/customers/{customer}/interactions", {"type": "refund", "order_id": "nope"}
    )

    answer.problem(404)


def test_fixed_points_per_type_and_tier_multipliers_come_from_the_configuration(
    tenant_a: Api,
) -> None:
    tenant = _tenant(tenant_a)
    _configure(
        tenant,
        LoyaltyConfig(
            points_by_interaction_type={"feedback": 10},
            tiers=[
                TierRule(name="member", threshold=Decimal(0)),
                TierRule(name="silver", threshold=Decimal(10), multiplier=Decimal(2)),
            ],
        ),
    )
    customer = _customer(tenant_a)

    feedback = tenant_a.post(
        f"/v1/customers/{customer}/interactions", {"type": "feedback", "rating": 5}
    )
    purchase = _buy(tenant_a, customer, "10", "o-1")

    assert feedback.json["points"] == 10
    assert purchase["points"] == 20
    summary = _points(tenant_a, customer)
    assert summary["tier"] == "silver" and summary["balance"] == 30


def test_crossing_a_threshold_upgrades_in_the_same_write(tenant_a: Api) -> None:
    customer = _customer(tenant_a)

    _buy(tenant_a, customer, "1000", "o-1")

    summary = _points(tenant_a, customer)
    assert summary["tier"] == "silver"
    assert summary["next_tier"] == {"name": "gold", "threshold": "5000", "missing": "4000"}
    assert [(e["type"], e["tier"]) for e in _ledger(tenant_a, customer)[:1]] == [
        ("tier_change", "silver")
    ]


def test_expired_points_stop_counting_before_any_job_runs(tenant_a: Api) -> None:
    tenant, customer = _tenant(tenant_a), _customer(tenant_a)
    year_ago = utc_now() - timedelta(days=366)
    _purchase_at(tenant, customer, "40", "o-old", year_ago)
    _buy(tenant_a, customer, "5", "o-new")

    summary = _points(tenant_a, customer)

    assert summary["balance"] == 5
    assert tenant_a.post(
        f"/v1/customers/{customer}/points/redeem", {"points": 6, "reason": "r"}
    ).problem(409)


def test_points_expiring_within_30_days_are_listed(tenant_a: Api) -> None:
    tenant, customer = _tenant(tenant_a), _customer(tenant_a)
    earned = utc_now() - timedelta(days=350)
    _purchase_at(tenant, customer, "40", "o-old", earned)

    summary = loyalty.points_summary(tenant, customer)

    expiry = (earned + timedelta(days=365)).date()
    assert [e.model_dump() for e in summary.expiring] == [{"expires_on": expiry, "points": 40}]


def test_the_daily_job_records_the_expiry_of_exactly_the_lots_due_that_day(
    tenant_a: Api, tenant_b: Api
) -> None:
    tenant, other_tenant = _tenant(tenant_a), _tenant(tenant_b)
    ann, bob, cyd = _customer(tenant_a), _customer(tenant_a), _customer(tenant_b)
    start = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
    _purchase_at(tenant, ann, "30", "o-a", start)
    _purchase_at(tenant, bob, "20", "o-b", start + timedelta(days=1))
    _purchase_at(other_tenant, cyd, "10", "o-c", start)
    due = (start + timedelta(days=365)).date()

    report = loyalty_jobs.run_daily(due)

    assert report.expiry_checked == 2
    ann_ledger = list(repository.iter_ledger(tenant, ann))
    assert [(e.type.value, e.points, e.actor) for e in ann_ledger] == [
        ("earn", 30, ACTOR),
        ("expire", -30, "system"),
    ]
    assert [e.type.value for e in repository.iter_ledger(tenant, bob)] == ["earn"]
    assert [e.type.value for e in repository.iter_ledger(other_tenant, cyd)] == [
        "earn",
        "expire",
    ]
    assert list(repository.customers_with_lots_expiring(tenant, due)) == []
    assert loyalty_jobs.run_daily(due).expiry_checked == 0


def test_rolling_spend_tiers_go_down_on_their_evaluation_day(tenant_a: Api) -> None:
    tenant = _tenant(tenant_a)
    _configure(
        tenant,
        LoyaltyConfig(
            tier_basis=TierBasis.ROLLING_12_MONTH_SPEND,
            tiers=[
                TierRule(name="member", threshold=Decimal(0)),
                TierRule(name="gold", threshold=Decimal(500)),
            ],
        ),
    )
    customer = _customer(tenant_a)
    _purchase_at(tenant, customer, "600", "o-1", datetime(2025, 3, 10, tzinfo=UTC))
    assert loyalty.points_summary(tenant, customer, datetime(2025, 3, 11, tzinfo=UTC)).tier == (
        "gold"
    )

    evaluation_day = datetime(2026, 3, 1, tzinfo=UTC).date()
    assert loyalty_jobs.evaluate_tiers(tenant, evaluation_day) == 1

    summary = _points(tenant_a, customer)
    assert summary["tier"] == "member"
    assert _ledger(tenant_a, customer)[0]["type"] == "tier_change"
    assert _ledger(tenant_a, customer)[0]["actor"] == "system"
