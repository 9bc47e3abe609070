"""Metrics folding, built-in segments, RFM scoring and custom rules: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.metrics import (
    CustomerFacts,
    CustomerMetrics,
    InteractionFacts,
    PointsFacts,
    ProfileFacts,
    TicketFacts,
    fold_metrics,
)
from chalicelib.domain.segments import (
    RfmScore,
    check_references,
    evaluate,
    evaluation_order,
    memberships,
    parse_rule,
)
from chalicelib.domain.tenant_config import TenantConfig

TODAY = date(2026, 6, 15)
NOON = datetime(2026, 6, 15, 12, tzinfo=UTC)


def _days_ago(days: int) -> datetime:
    return NOON - timedelta(days=days)


def _profile(**fields: Any) -> ProfileFacts:
    return ProfileFacts(
        customer_id="cus_1",
        created_at=_days_ago(400),
        fields=fields,
        tags=frozenset(fields.pop("tags", ())),
        attributes=fields.pop("attributes", {}),
        birthday=fields.get("birthday"),
    )


def _purchase(days: int, amount: str, n: int = 0) -> InteractionFacts:
    return InteractionFacts(f"int_{days}_{n}", "purchase", _days_ago(days), Decimal(amount))


def _facts(*interactions: InteractionFacts, **kwargs: Any) -> CustomerFacts:
    return CustomerFacts(_profile(), interactions=tuple(interactions), **kwargs)


def _segments(facts: CustomerFacts, config: TenantConfig | None = None) -> frozenset[str]:
    metrics, change = fold_metrics(facts, TODAY)
    return memberships(facts, metrics, change, config or TenantConfig(), {}, TODAY).segments


def test_metrics_fold_purchases_refunds_and_the_90_day_window() -> None:
    facts = _facts(
        _purchase(200, "100"),
        _purchase(30, "50"),
        InteractionFacts("int_r", "refund", _days_ago(10), Decimal("20")),
        InteractionFacts("int_f", "feedback", _days_ago(5), rating=4),
        InteractionFacts("int_c", "complaint", _days_ago(3)),
    )

    metrics, change = fold_metrics(facts, TODAY)

    assert (metrics.purchase_count, metrics.total_spend) == (2, Decimal(130))
    assert (metrics.purchase_count_90d, metrics.spend_90d) == (1, Decimal(30))
    assert metrics.average_order_value == Decimal("65.00")
    assert metrics.first_purchase_at == _days_ago(200)
    assert metrics.last_activity_at == _days_ago(3)
    assert metrics.last_complaint_at == _days_ago(3)
    assert metrics.last_feedback_score == 4
    assert metrics.purchase_count_prior_270d == 1
    assert change == (_days_ago(30) + timedelta(days=90)).date()


def test_points_balance_counts_only_unexpired_lots_and_tickets_count_when_open() -> None:
    points = PointsFacts({TODAY: 5, TODAY + timedelta(days=3): 7}, "silver")
    ticket = TicketFacts("t1", "complaint", "open", _days_ago(1), 3_600_000_000)
    metrics, change = fold_metrics(_facts(points=points, tickets=(ticket,)), TODAY)
    assert (metrics.points_balance, metrics.tier, metrics.open_tickets) == (7, "silver", 1)
    assert change == TODAY + timedelta(days=3)


@pytest.mark.parametrize(
    ("purchases", "stage"),
    [
        ((), "lifecycle:prospect"),
        ((_purchase(5, "10"),), "lifecycle:new"),
        ((_purchase(60, "10"),), "lifecycle:active"),
        ((_purchase(120, "10"),), "lifecycle:dormant"),
        ((_purchase(200, "10"),), "lifecycle:churned"),
    ],
)
def test_lifecycle_stage_follows_the_configured_thresholds(
    purchases: tuple[InteractionFacts, ...], stage: str
) -> None:
    assert stage in _segments(_facts(*purchases))


def test_rfm_scores_and_groups() -> None:
    champion = _facts(*[_purchase(5 + i, "200", i) for i in range(10)])
    metrics, _ = fold_metrics(champion, TODAY)
    result = memberships(champion, metrics, None, TenantConfig(), {}, TODAY)
    assert result.rfm == RfmScore(recency=5, frequency=5, monetary=5)
    assert "rfm:champions" in result.segments and "value:vip" in result.segments
    at_risk = _facts(*[_purchase(200 + i, "20", i) for i in range(4)])
    assert "rfm:at_risk" in _segments(at_risk)
    assert RfmScore(1, 1, 1).group == "rfm:hibernating"


def test_churn_risk_when_the_recent_rate_halves_or_a_complaint_is_overdue() -> None:
    slowing = _facts(_purchase(100, "10", 1), _purchase(150, "10", 2), _purchase(200, "10", 3))
    assert "risk:churn" in _segments(slowing)
    steady = _facts(_purchase(100, "10", 1), _purchase(150, "10", 2), _purchase(10, "10", 3))
    assert "risk:churn" not in _segments(steady)
    overdue = TicketFacts("t", "complaint", "open", _days_ago(10), 72 * 3_600_000_000)
    assert "risk:churn" in _segments(_facts(tickets=(overdue,)))
    resolved = TicketFacts("t", "complaint", "resolved", _days_ago(10), 3_600_000_000)
    assert "risk:churn" not in _segments(_facts(tickets=(resolved,)))


def test_birthday_this_month_and_when_it_changes() -> None:
    facts = CustomerFacts(_profile(birthday=date(1990, 6, 2)))
    metrics, change = fold_metrics(facts, TODAY)
    result = memberships(facts, metrics, change, TenantConfig(), {}, TODAY)
    assert "birthday:this_month" in result.segments
    assert result.next_change == date(2026, 7, 1)


def test_custom_rules_see_profile_metrics_and_other_segments() -> None:
    rule = parse_rule(
        {
            "all": [
                {"field": "metrics.total_spend", "op": "gte", "value": 100},
                {"field": "segments", "op": "contains", "value": "lifecycle:new"},
                {"not": {"field": "tags", "op": "contains", "value": "staff"}},
                {"any": [{"field": "attributes.plan", "op": "in", "value": ["pro", "team"]}]},
            ]
        }
    )
    facts = CustomerFacts(_profile(attributes={"plan": "pro"}), interactions=(_purchase(3, "150"),))
    metrics, change = fold_metrics(facts, TODAY)
    result = memberships(facts, metrics, change, TenantConfig(), {"seg_a": rule}, TODAY)
    assert "seg_a" in result.segments
    staff = CustomerFacts(_profile(tags=["staff"]), interactions=(_purchase(3, "150"),))
    metrics, change = fold_metrics(staff, TODAY)
    assert (
        "seg_a"
        not in memberships(staff, metrics, change, TenantConfig(), {"seg_a": rule}, TODAY).segments
    )


def test_a_missing_value_matches_only_ne() -> None:
    values = {"metrics.last_feedback_score": None}
    assert not evaluate(
        parse_rule({"field": "metrics.last_feedback_score", "op": "gt", "value": 1}), values
    )
    assert evaluate(
        parse_rule({"field": "metrics.last_feedback_score", "op": "ne", "value": 1}), values
    )
    assert evaluate(
        parse_rule({"field": "metrics.last_feedback_score", "op": "exists", "value": False}), values
    )


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"field": "shoe_size", "op": "eq", "value": 1}, "rule.field"),
        ({"field": "metrics.purchase_count", "op": "like", "value": 1}, "rule.op"),
        ({"field": "metrics.purchase_count", "op": "gt", "value": "many"}, "rule.value"),
        ({"field": "tags", "op": "gt", "value": "x"}, "rule.op"),
        ({"all": []}, "rule.all"),
        ({"all": [{"field": "name", "op": "eq", "value": 1}]}, "rule.all.0.value"),
        ({"all": [], "any": []}, "rule"),
        ({"field": "metrics.last_purchase_at", "op": "gt", "value": "yesterday"}, "rule.value"),
        ("everyone", "rule"),
    ],
)
def test_invalid_rules_name_the_offending_part(rule: Any, path: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_rule(rule)
    assert path in [issue.field for issue in raised.value.issues]


def test_references_must_exist_and_not_form_a_cycle() -> None:
    a = parse_rule({"field": "segments", "op": "contains", "value": "seg_b"})
    b = parse_rule({"field": "segments", "op": "contains", "value": "seg_a"})
    with pytest.raises(InvalidInput) as unknown:
        check_references("seg_a", a, {})
    assert unknown.value.issues[0].code == "unknown_segment"
    with pytest.raises(InvalidInput) as cycle:
        check_references("seg_a", a, {"seg_b": b})
    assert cycle.value.issues[0].code == "cycle"
    built_in = parse_rule({"field": "segments", "op": "contains", "value": "rfm:loyal"})
    check_references("seg_c", built_in, {})
    assert evaluation_order({"seg_a": a, "seg_c": built_in}) == ["seg_a", "seg_c"]


def test_metrics_round_trip_through_json() -> None:
    metrics, _ = fold_metrics(_facts(_purchase(3, "12.34")), TODAY)
    assert CustomerMetrics.from_json(metrics.as_json()) == metrics
