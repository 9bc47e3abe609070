"""Plan quotas, the per-tenant request rate, and usage accounting."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from chalicelib.dal import keys
from chalicelib.dal.metering import meter
from chalicelib.dal.models import CounterItem
from chalicelib.domain.clock import utc_now
from chalicelib.domain.plans import PLAN_LIMITS
from chalicelib.domain.tenancy import Plan, tenant_id
from chalicelib.services import usage
from chalicelib.settings import reset_settings
from tests.support.api import Api


def test_a_tenant_at_its_customer_limit_cannot_add_more(tenant_a: Api) -> None:
    limit = PLAN_LIMITS[Plan.FREE].max_customers
    assert limit is not None
    tenant_a.create_customer(name="First")
    CounterItem(
        pk=keys.customer_counter_pk(tenant_id(str(tenant_a.tenant_id))),
        sk=keys.CUSTOMER_COUNTER_SK,
        value=limit,
    ).save()

    refused = tenant_a.post("/v1/customers", {"name": "One too many"})

    problem = refused.problem(403)
    assert problem["quota"] == "max_customers"
    assert len(tenant_a.get("/v1/customers").json["items"]) == 1


def test_deleting_customers_makes_room(tenant_a: Api) -> None:
    limit = PLAN_LIMITS[Plan.FREE].max_customers
    assert limit is not None
    doomed = tenant_a.create_customer(name="Doomed")
    counter = CounterItem.get(
        keys.customer_counter_pk(tenant_id(str(tenant_a.tenant_id))), keys.CUSTOMER_COUNTER_SK
    )
    assert counter.value == 1
    counter.update(actions=[CounterItem.value.set(limit)])

    tenant_a.delete(f"/v1/customers/{doomed['id']}")

    assert tenant_a.post("/v1/customers", {"name": "Fits again"}).status == 201


def test_a_tenant_past_its_rate_gets_429_and_others_do_not(
    monkeypatch: pytest.MonkeyPatch, tenant_a: Api, tenant_b: Api
) -> None:
    monkeypatch.setenv("RATE_LIMIT_IN_APP", "true")
    reset_settings()
    limits = PLAN_LIMITS[Plan.FREE]
    assert tenant_a.get("/v1/customers").status == 200
    # The bucket is emptied as of a few seconds ahead, so no token refills before the
    # next request however slow the machine is.
    ahead = time.monotonic() + 5
    for _ in range(limits.burst):
        usage.rate_buckets.take(
            str(tenant_a.tenant_id), limits.requests_per_second, limits.burst, ahead
        )

    limited = tenant_a.get("/v1/customers")
    other = tenant_b.get("/v1/customers")

    problem = limited.problem(429)
    assert problem["type"].endswith("rate-limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert other.status == 200


def test_usage_counts_requests_and_capacity_per_day(platform: Api, tenant_a: Api) -> None:
    for i in range(3):
        tenant_a.create_customer(name=f"C{i}")
    tenant_a.get("/v1/customers")
    meter.flush()
    today = utc_now().date().isoformat()

    answer = platform.get(f"/v1/admin/tenants/{tenant_a.tenant_id}/usage?from={today}&to={today}")

    assert answer.status == 200, answer.text
    days = answer.json["days"]
    assert [d["day"] for d in days] == [today]
    assert days[0]["requests"] == 4


def test_usage_without_a_window_covers_the_30_days_up_to_today(
    platform: Api, tenant_a: Api
) -> None:
    tenant_a.create_customer(name="C")
    meter.flush()
    today = utc_now().date()

    answer = platform.get(f"/v1/admin/tenants/{tenant_a.tenant_id}/usage")

    assert answer.status == 200, answer.text
    assert answer.json["first_day"] == (today - timedelta(days=29)).isoformat()
    assert answer.json["last_day"] == today.isoformat()
    assert [d["day"] for d in answer.json["days"]] == [today.isoformat()]
    assert answer.json["days"][0]["requests"] >= 1
    # and `to` alone ends the same 30 days there
    earlier = platform.get(
        f"/v1/admin/tenants/{tenant_a.tenant_id}/usage?to={(today - timedelta(days=1)).isoformat()}"
    )
    assert (earlier.json["first_day"], earlier.json["days"]) == (
        (today - timedelta(days=30)).isoformat(),
        [],
    )


def test_usage_rejects_a_backwards_range(platform: Api, tenant_a: Api) -> None:
    path = f"/v1/admin/tenants/{tenant_a.tenant_id}/usage?from=2026-02-01&to=2026-01-01"

    platform.get(path).problem(422)
