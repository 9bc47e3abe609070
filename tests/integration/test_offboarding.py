"""Deleting a tenant purges all of its data, and nothing of anyone else's."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.dal.metering import meter
from chalicelib.domain.tenancy import tenant_id
from chalicelib.services.purge import purge_tenant, run_due_purges
from tests.support.api import Api
from tests.support.tables import count_items


def _populate(api: Api, customers: int) -> None:
    for i in range(customers):
        api.create_customer(
            name=f"C{i}",
            email=f"c{i}@example.com",
            phone=f"+4915112345{i:03d}",
            external_id=f"x-{i}",
            tags=["vip", f"t{i % 3}"],
        )
    api.post("/v1/api-keys", {"role": "staff"})
    api.request(
        "PUT", "/v1/config", {"lifecycle": {"dormant_after_days": 60}}, headers={"If-Match": '"0"'}
    )
    meter.flush()


def _census(dynamodb: Any, environment: dict[str, str], api: Api) -> dict[str, int]:
    return {
        "data": count_items(dynamodb, environment["DATA_TABLE"], f"T#{api.tenant_id}#"),
        "control": count_items(dynamodb, environment["CONTROL_TABLE"], f"TENANT#{api.tenant_id}"),
        "keys": _count_keys(dynamodb, environment["CONTROL_TABLE"], str(api.tenant_id)),
    }


def _count_keys(dynamodb: Any, table: str, tenant: str) -> int:
    total = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        total += sum(
            1
            for item in page["Items"]
            if item.get("tenant_id", {}).get("S") == tenant
            and item["pk"]["S"].startswith("APIKEY#")
        )
    return total


def test_delete_purges_every_item_of_the_tenant_and_none_of_others(
    dynamodb: Any, environment: dict[str, str], platform: Api, tenant_a: Api, tenant_b: Api
) -> None:
    _populate(tenant_a, 30)
    _populate(tenant_b, 5)
    before_a = _census(dynamodb, environment, tenant_a)
    before_b = _census(dynamodb, environment, tenant_b)
    assert before_a["data"] >= 30 * 6 and before_a["keys"] == 2 and before_a["control"] >= 2

    deleted = platform.delete(f"/v1/admin/tenants/{tenant_a.tenant_id}")
    blocked = tenant_a.get("/v1/customers")
    run_due_purges(time.monotonic() + 60)

    assert deleted.status == 202 and deleted.json["status"] == "deleted"
    blocked.problem(401)
    after_a = _census(dynamodb, environment, tenant_a)
    assert after_a == {"data": 0, "control": 1, "keys": 0}
    assert _census(dynamodb, environment, tenant_b) == before_b
    report = platform.get(f"/v1/admin/tenants/{tenant_a.tenant_id}").json
    assert report["purge"]["status"] == "completed"
    assert report["purge"]["items_deleted"] >= before_a["data"]
    assert tenant_b.get("/v1/customers?limit=100").status == 200
    assert len(tenant_b.get("/v1/customers?limit=100").json["items"]) == 5


def test_the_purge_resumes_after_a_crash_and_is_idempotent(
    dynamodb: Any, environment: dict[str, str], platform: Api, tenant_a: Api
) -> None:
    _populate(tenant_a, 40)
    platform.delete(f"/v1/admin/tenants/{tenant_a.tenant_id}")
    tenant = tenant_id(str(tenant_a.tenant_id))

    interrupted = purge_tenant(tenant, time.monotonic() + 60, max_pages=2)
    assert interrupted is not None and interrupted.purge is not None
    assert interrupted.purge.status == "running" and interrupted.purge.items_deleted > 0
    partly = platform.get(f"/v1/admin/tenants/{tenant_a.tenant_id}").json["purge"]
    assert partly["status"] == "running"

    finished = purge_tenant(tenant, time.monotonic() + 60)
    again = purge_tenant(tenant, time.monotonic() + 60)

    assert finished is not None and finished.purge is not None
    assert finished.purge.status == "completed"
    assert again == finished
    assert count_items(dynamodb, environment["DATA_TABLE"], f"T#{tenant}#") == 0


def test_deleting_twice_changes_nothing(platform: Api, tenant_a: Api) -> None:
    first = platform.delete(f"/v1/admin/tenants/{tenant_a.tenant_id}").json
    second = platform.delete(f"/v1/admin/tenants/{tenant_a.tenant_id}").json

    assert second["deleted_at"] == first["deleted_at"] and second["version"] == first["version"]
    platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/reactivate").problem(404)
