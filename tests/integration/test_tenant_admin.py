"""The admin plane: tenants created, listed, changed, suspended, deleted; their keys."""

from __future__ import annotations

from tests.support.api import Api


def test_create_answers_the_tenant_its_first_key_and_initial_settings(platform: Api) -> None:
    answer = platform.post(
        "/v1/admin/tenants",
        {
            "name": "Acme",
            "plan": "standard",
            "contact_email": "Ops@Acme.example",
            "settings": {"loyalty": {"validity_days": 180}},
        },
    )

    assert answer.status == 201, answer.text
    body = answer.json
    assert body["status"] == "active" and body["plan"] == "standard"
    assert body["contact_email"] == "ops@acme.example"
    assert body["api_key"]["role"] == "admin" and body["api_key"]["key"].startswith("crm_")
    assert answer.headers["location"] == f"/v1/admin/tenants/{body['id']}"
    tenant = platform.as_key(body["api_key"]["key"], body["id"])
    config = tenant.get("/v1/config").json
    assert config["config"]["loyalty"]["validity_days"] == 180
    assert config["config"]["loyalty"]["tiers"][1]["name"] == "silver"
    fetched = platform.get(f"/v1/admin/tenants/{body['id']}").json
    assert "api_key" not in fetched and fetched["name"] == "Acme"


def test_list_pages_newest_first_and_filters_by_status(platform: Api) -> None:
    created = [platform.create_tenant(f"T{i}") for i in range(5)]
    platform.post(f"/v1/admin/tenants/{created[1].tenant_id}/suspend")

    first = platform.get("/v1/admin/tenants?limit=3").json
    second = platform.get(f"/v1/admin/tenants?limit=3&cursor={first['next_cursor']}").json
    suspended = platform.get("/v1/admin/tenants?status=suspended").json
    active = platform.get("/v1/admin/tenants?status=active").json

    ids = [t["id"] for t in first["items"] + second["items"]]
    assert ids == [t.tenant_id for t in reversed(created)]
    assert second["next_cursor"] is None
    assert [t["id"] for t in suspended["items"]] == [created[1].tenant_id]
    assert created[1].tenant_id not in [t["id"] for t in active["items"]]
    assert len(active["items"]) == 4


def test_update_with_if_match_and_clearing_the_contact(platform: Api) -> None:
    tenant = platform.post(
        "/v1/admin/tenants", {"name": "Old", "contact_email": "a@example.com"}
    ).json
    path = f"/v1/admin/tenants/{tenant['id']}"

    changed = platform.patch(
        path, {"name": "New", "plan": "enterprise"}, headers={"If-Match": '"1"'}
    )
    stale = platform.patch(path, {"name": "Stale"}, headers={"If-Match": '"1"'})
    cleared = platform.patch(path, {"contact_email": None})

    assert changed.status == 200 and changed.json["name"] == "New"
    assert changed.json["plan"] == "enterprise" and changed.headers["etag"] == '"2"'
    stale.problem(412)
    assert cleared.json["contact_email"] is None and cleared.json["name"] == "New"


def test_suspend_blocks_the_tenant_and_reactivate_restores_it(platform: Api, tenant_a: Api) -> None:
    tenant_a.create_customer(name="Ann")
    path = f"/v1/admin/tenants/{tenant_a.tenant_id}"

    suspended = platform.post(f"{path}/suspend")
    blocked = tenant_a.get("/v1/customers")
    reactivated = platform.post(f"{path}/reactivate")

    assert suspended.json["status"] == "suspended"
    assert "suspended" in blocked.problem(403)["detail"]
    assert reactivated.json["status"] == "active"
    assert len(tenant_a.get("/v1/customers").json["items"]) == 1


def test_unknown_tenants_are_404(platform: Api) -> None:
    platform.get("/v1/admin/tenants/ten_00000000000000000000000000").problem(404)
    platform.get("/v1/admin/tenants/nonsense").problem(404)
    platform.post("/v1/admin/tenants/nonsense/suspend").problem(404)


def test_the_platform_admin_manages_any_tenants_keys(platform: Api, tenant_a: Api) -> None:
    keys_path = f"/v1/admin/tenants/{tenant_a.tenant_id}/api-keys"

    issued = platform.post(keys_path, {"role": "readonly", "label": "reporting"})
    listed = platform.get(keys_path).json["items"]
    reader = tenant_a.as_key(issued.json["key"])
    can_read = reader.get("/v1/customers").status
    revoked = platform.delete(f"{keys_path}/{issued.json['id']}")

    assert issued.status == 201 and issued.json["role"] == "readonly"
    assert {k["id"] for k in listed} >= {issued.json["id"]}
    assert all("key" not in k for k in listed)
    assert can_read == 200
    assert revoked.status == 204
    reader.get("/v1/customers").problem(401)
    assert platform.delete(f"{keys_path}/key_00000000000000000000000000").status == 404
