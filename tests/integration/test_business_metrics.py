"""Issue 14: business counters go out as CloudWatch EMF lines (Powertools Metrics), one
line per invocation that counted something, flushed by the app's middleware."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.tenant_config import SlaTarget, TenantConfig, TicketsConfig
from chalicelib.observability import METRICS_NAMESPACE
from tests.integration.test_tickets import _configure, move, open_ticket
from tests.support.api import Api


def _emitted(output: str) -> list[dict[str, Any]]:
    """The EMF documents among the lines written to stdout."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [line for line in lines if "CloudWatchMetrics" in line["_aws"]]


def _totals(documents: list[dict[str, Any]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == METRICS_NAMESPACE
            for metric in directive["Metrics"]:
                name = metric["Name"]
                assert metric["Unit"] == "Count"
                totals[name] = totals.get(name, 0) + sum(document[name])
    return totals


def test_customers_and_points_are_counted_in_emf(
    tenant_a: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a tenant (set up before the counting starts)
    capsys.readouterr()

    # When a customer is created, buys for 25 points and redeems 10
    customer = tenant_a.create_customer(name="Ann")["id"]
    purchase = {"type": "purchase", "amount": "25.90", "currency": "EUR", "order_id": "o-1"}
    bought = tenant_a.post(f"/v1/customers/{customer}/interactions", purchase)
    redeemed = tenant_a.post(
        f"/v1/customers/{customer}/points/redeem", {"points": 10, "reason": "voucher"}
    )
    listed = tenant_a.get("/v1/customers")

    # Then one EMF line per changing request says so, and the read counted nothing
    assert bought.status == redeemed.status == 201 and listed.status == 200
    documents = _emitted(capsys.readouterr().out)
    assert len(documents) == 3
    assert all(document["service"] == "customer-ops" for document in documents)
    assert _totals(documents) == {"CustomersCreated": 1, "PointsEarned": 25, "PointsRedeemed": 10}


def test_a_ticket_resolved_late_is_counted_as_breached(
    tenant_a: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a tenant whose low-priority targets are a few milliseconds, and two tickets
    tiny = SlaTarget(first_response_hours=Decimal("0.000001"), resolution_hours=Decimal(1))
    _configure(
        tenant_a, TenantConfig(tickets=TicketsConfig(sla=TicketsConfig().sla | {"low": tiny}))
    )
    customer = tenant_a.create_customer(name="Ann")["id"]
    late = open_ticket(tenant_a, customer, priority="low")
    on_time = open_ticket(tenant_a, customer, priority="normal")
    time.sleep(0.05)
    capsys.readouterr()

    # When both are resolved
    move(tenant_a, late, "resolved")
    move(tenant_a, on_time, "resolved")

    # Then only the late one is counted
    assert _totals(_emitted(capsys.readouterr().out)) == {"TicketsBreached": 1}
