"""Tenant operations over HTTP, with the local schedule running the purge."""

from __future__ import annotations

import time

from tests.support.api import Api, profile


def test_an_offboarded_tenant_is_purged_by_the_scheduled_job(
    platform: Api, tenant_a: Api, tenant_b: Api
) -> None:
    for i in range(5):
        tenant_a.create_customer(name=f"A{i}", email=f"a{i}@example.com", tags=["vip"])
    kept = tenant_b.create_customer(name="B", email="a0@example.com", tags=["vip"])

    deleted = platform.delete(f"/v1/admin/tenants/{tenant_a.tenant_id}")
    deadline = time.monotonic() + 60
    report = deleted.json
    while (report.get("purge") or {}).get("status") != "completed" and time.monotonic() < deadline:
        time.sleep(0.5)
        report = platform.get(f"/v1/admin/tenants/{tenant_a.tenant_id}").json

    assert report["purge"]["status"] == "completed", report
    assert report["purge"]["items_deleted"] >= 5 * 3 + 1
    tenant_a.get("/v1/customers").problem(401)
    assert profile(tenant_b.get(f"/v1/customers/{kept['id']}").json) == profile(kept)
    assert [c["id"] for c in tenant_b.get("/v1/customers?tag=vip").json["items"]] == [kept["id"]]


def test_usage_reports_requests_and_the_capacity_dynamodb_reported(
    platform: Api, tenant_a: Api
) -> None:
    for i in range(3):
        tenant_a.create_customer(name=f"U{i}")
    tenant_a.get("/v1/customers")
    today = time.strftime("%Y-%m-%d", time.gmtime())

    days = platform.get(
        f"/v1/admin/tenants/{tenant_a.tenant_id}/usage?from={today}&to={today}"
    ).json["days"]

    assert days[0]["requests"] == 4
    assert days[0]["write_capacity_units"] >= 3
    assert days[0]["read_capacity_units"] > 0
