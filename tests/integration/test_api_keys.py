"""A tenant's admins manage their own keys."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.api import Api


def test_a_new_key_is_shown_once_and_works(tenant_a: Api) -> None:
    issued = tenant_a.post(
        "/v1/api-keys",
        {"role": "staff", "label": "till 3", "expires_at": "2999-01-01T00:00:00Z"},
    )

    assert issued.status == 201, issued.text
    staff = tenant_a.as_key(issued.json["key"])
    assert staff.post("/v1/customers", {"name": "By staff"}).status == 201
    listed = {k["id"]: k for k in tenant_a.get("/v1/api-keys").json["items"]}
    entry = listed[issued.json["id"]]
    assert entry["label"] == "till 3" and entry["role"] == "staff"
    assert entry["expires_at"].startswith("2999-01-01")
    assert "key" not in entry and entry["last_used_at"] is not None


def test_last_used_is_written_at_most_once_a_minute(tenant_a: Api) -> None:
    issued = tenant_a.post("/v1/api-keys", {"role": "readonly"}).json
    reader = tenant_a.as_key(issued["key"])

    reader.get("/v1/customers")
    first = _key(tenant_a, issued["id"])["last_used_at"]
    reader.get("/v1/customers")
    second = _key(tenant_a, issued["id"])["last_used_at"]

    assert first is not None and second == first


def _key(api: Api, key_id: str) -> dict[str, object]:
    return next(k for k in api.get("/v1/api-keys").json["items"] if k["id"] == key_id)


def test_rotation_keeps_the_old_secret_working_for_the_grace_period(tenant_a: Api) -> None:
    issued = tenant_a.post("/v1/api-keys", {"role": "staff", "label": "pos"}).json

    rotated = tenant_a.post(f"/v1/api-keys/{issued['id']}/rotate")

    assert rotated.status == 201
    new = rotated.json
    assert new["id"] != issued["id"] and new["role"] == "staff" and new["label"] == "pos"
    assert tenant_a.as_key(new["key"]).get("/v1/customers").status == 200
    assert tenant_a.as_key(issued["key"]).get("/v1/customers").status == 200
    old = _key(tenant_a, issued["id"])
    assert old["rotated_to"] == new["id"] and old["expires_at"] is not None
    tenant_a.post(f"/v1/api-keys/{issued['id']}/rotate").problem(404)


def test_rotation_without_grace_retires_the_old_secret_at_once(tenant_a: Api) -> None:
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"}).json

    tenant_a.post(f"/v1/api-keys/{issued['id']}/rotate?grace_hours=0")

    tenant_a.as_key(issued["key"]).get("/v1/customers").problem(401)


def test_a_revoked_key_stops_working(tenant_a: Api) -> None:
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"}).json

    assert tenant_a.delete(f"/v1/api-keys/{issued['id']}").status == 204

    tenant_a.as_key(issued["key"]).get("/v1/customers").problem(401)
    assert _key(tenant_a, issued["id"])["revoked_at"] is not None


def test_the_plan_caps_the_number_of_keys(tenant_a: Api) -> None:
    made = [tenant_a.post("/v1/api-keys", {"role": "readonly"}) for _ in range(4)]

    refused = tenant_a.post("/v1/api-keys", {"role": "readonly"})
    tenant_a.delete(f"/v1/api-keys/{made[0].json['id']}")
    after_revoke = tenant_a.post("/v1/api-keys", {"role": "readonly"})

    assert all(answer.status == 201 for answer in made)
    problem = refused.problem(403)
    assert problem["quota"] == "max_api_keys" and problem["type"].endswith("quota-exceeded")
    assert after_revoke.status == 201


def test_keys_are_the_tenants_own(tenant_a: Api, tenant_b: Api) -> None:
    theirs = tenant_b.post("/v1/api-keys", {"role": "staff"}).json

    tenant_a.delete(f"/v1/api-keys/{theirs['id']}").problem(404)
    tenant_a.post(f"/v1/api-keys/{theirs['id']}/rotate").problem(404)
    assert theirs["id"] not in {k["id"] for k in tenant_a.get("/v1/api-keys").json["items"]}
    assert tenant_b.as_key(theirs["key"]).get("/v1/customers").status == 200


def test_key_input_is_validated(tenant_a: Api, key_with_role: Callable[[Api, str], Api]) -> None:
    tenant_a.post("/v1/api-keys", {"role": "platform_admin"}).problem(422)
    tenant_a.post("/v1/api-keys", {"role": "owner"}).problem(422)
    tenant_a.post("/v1/api-keys", {"role": "staff", "expires_at": "2000-01-01T00:00:00Z"}).problem(
        422
    )
    tenant_a.post("/v1/api-keys", {"role": "staff", "expires_at": "2999-01-01T00:00:00"}).problem(
        422
    )
    key_with_role(tenant_a, "staff").post("/v1/api-keys", {"role": "staff"}).problem(403)
