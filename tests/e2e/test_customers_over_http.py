"""The customer API over HTTP against DynamoDB Local (AWS's own engine)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.api import Api, profile


def test_a_customer_lives_and_dies_over_http(tenant_a: Api) -> None:
    created = tenant_a.post(
        "/v1/customers",
        {"name": "Ann", "email": "Ann@Example.com", "phone": "+1 415 555 0199", "tags": ["vip"]},
    )
    assert created.status == 201, created.text
    path = created.headers["location"]

    changed = tenant_a.patch(
        path, {"tags": ["gold"]}, headers={"If-Match": created.headers["etag"]}
    )
    stale = tenant_a.patch(path, {"name": "x"}, headers={"If-Match": created.headers["etag"]})
    by_email = tenant_a.get("/v1/customers?email=ann@example.com").json["items"]
    by_old_tag = tenant_a.get("/v1/customers?tag=vip").json["items"]
    by_new_tag = tenant_a.get("/v1/customers?tag=gold").json["items"]
    deleted = tenant_a.delete(path)

    assert changed.status == 200 and changed.json["version"] == 2
    stale.problem(412)
    assert [c["id"] for c in by_email] == [created.json["id"]]
    assert by_old_tag == [] and [c["id"] for c in by_new_tag] == [created.json["id"]]
    assert deleted.status == 204
    tenant_a.get(path).problem(404)
    assert tenant_a.post("/v1/customers", {"email": "ann@example.com"}).status == 201


def test_concurrent_creates_with_one_email_have_exactly_one_winner(tenant_a: Api) -> None:
    attempts = 8

    def create(i: int) -> int:
        return tenant_a.post(
            "/v1/customers", {"name": f"Racer {i}", "email": "race@example.com"}
        ).status

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = list(pool.map(create, range(attempts)))

    assert sorted(statuses) == [201] + [409] * (attempts - 1)
    found = tenant_a.get("/v1/customers?email=race@example.com").json["items"]
    assert len(found) == 1
    assert len(tenant_a.get("/v1/customers").json["items"]) == 1


def test_concurrent_updates_without_if_match_all_land(tenant_a: Api) -> None:
    customer = tenant_a.create_customer(name="Counter")
    path = f"/v1/customers/{customer['id']}"

    def tag(i: int) -> int:
        return tenant_a.patch(path, {"attributes": {f"k{i}": i}}).status

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(tag, range(6)))

    assert statuses == [200] * 6
    final = tenant_a.get(path).json
    assert final["attributes"] == {f"k{i}": i for i in range(6)}
    assert final["version"] == 7


def test_tenants_are_isolated_over_http(tenant_a: Api, tenant_b: Api) -> None:
    theirs = tenant_b.create_customer(name="Bea", email="bea@example.com")
    path = f"/v1/customers/{theirs['id']}"

    tenant_a.get(path).problem(404)
    tenant_a.patch(path, {"name": "x"}).problem(404)
    tenant_a.delete(path).problem(404)
    assert tenant_a.get("/v1/customers?email=bea@example.com").json["items"] == []
    assert tenant_a.get("/v1/customers").json["items"] == []
    assert profile(tenant_b.get(path).json) == profile(theirs)


def test_errors_over_http_are_problems(tenant_a: Api) -> None:
    tenant_a.post("/v1/customers", raw=b"{", headers={"Content-Type": "application/json"}).problem(
        400
    )
    tenant_a.post("/v1/customers", {"email": "nope"}).problem(422)
    tenant_a.post("/v1/customers", raw=b"{}", headers={"Content-Type": "text/plain"}).problem(415)
    tenant_a.as_key(None).get("/v1/customers").problem(401)
