"""Every bad input answers a 4xx problem+json naming what was wrong, and writes nothing."""

from __future__ import annotations

import pytest

from tests.support.api import Api


def _count(api: Api) -> int:
    return len(api.get("/v1/customers?limit=100").json["items"])


def test_malformed_json_is_400(tenant_a: Api) -> None:
    answer = tenant_a.post(
        "/v1/customers", raw=b'{"name": ', headers={"Content-Type": "application/json"}
    )

    assert "not valid JSON" in answer.problem(400)["detail"]
    assert _count(tenant_a) == 0


def test_empty_body_is_400(tenant_a: Api) -> None:
    answer = tenant_a.post("/v1/customers", raw=b"", headers={"Content-Type": "application/json"})

    answer.problem(400)


def test_validation_lists_every_bad_field(tenant_a: Api) -> None:
    answer = tenant_a.post(
        "/v1/customers",
        {
            "name": 42,
            "email": "not-an-email",
            "phone": "030 1234567",
            "birthday": "2999-01-01",
            "gender": "robot",
            "tags": ["ok", "not ok!"],
            "attributes": {"nested": {"a": 1}},
            "address": {"country": "Germany"},
            "consent": {"email_marketing": "yes"},
            "surprise": 1,
        },
    )

    problem = answer.problem(422)
    fields = {issue["field"] for issue in problem["errors"]}
    assert {
        "name",
        "email",
        "phone",
        "birthday",
        "gender",
        "tags.1",
        "address.country",
        "consent.email_marketing",
        "surprise",
    } <= fields
    assert any(field.startswith("attributes.nested") for field in fields)
    assert all(issue["message"] for issue in problem["errors"])
    assert _count(tenant_a) == 0


def test_a_customer_needs_something_to_identify_it(tenant_a: Api) -> None:
    answer = tenant_a.post("/v1/customers", {"tags": ["vip"]})

    assert answer.problem(422)["errors"][0]["field"] == "name"


def test_too_many_tags_and_attributes_are_refused(tenant_a: Api) -> None:
    answer = tenant_a.post(
        "/v1/customers",
        {
            "name": "Ann",
            "tags": [f"t{i}" for i in range(21)],
            "attributes": {f"k{i}": i for i in range(51)},
        },
    )

    fields = {issue["field"] for issue in answer.problem(422)["errors"]}
    assert {"tags", "attributes"} <= fields


def test_a_body_that_is_not_an_object_is_422(tenant_a: Api) -> None:
    tenant_a.post("/v1/customers", ["name"]).problem(422)


def test_unknown_query_parameters_and_bad_limits_are_422(tenant_a: Api) -> None:
    assert tenant_a.get("/v1/customers?colour=red").problem(422)["errors"][0]["field"] == "colour"
    assert tenant_a.get("/v1/customers?limit=0").problem(422)["errors"][0]["field"] == "limit"
    assert tenant_a.get("/v1/customers?limit=abc").status == 422
    assert tenant_a.get("/v1/customers?limit=101").status == 422
    two_filters = tenant_a.get("/v1/customers?email=a@example.com&tag=vip")
    assert "one filter" in two_filters.problem(422)["errors"][0]["message"]


def test_unknown_and_malformed_ids_are_404(tenant_a: Api) -> None:
    tenant_a.get("/v1/customers/cus_01M81VDYNDWAQ809F9MRN4GC4Z").problem(404)
    tenant_a.get("/v1/customers/not-an-id").problem(404)
    tenant_a.patch("/v1/customers/not-an-id", {"name": "x"}).problem(404)
    tenant_a.delete("/v1/customers/cus_01M81VDYNDWAQ809F9MRN4GC4Z").problem(404)


def test_an_oversized_body_is_413(tenant_a: Api) -> None:
    answer = tenant_a.post("/v1/customers", {"name": "Ann", "attributes": {"blob": "x" * 70_000}})

    answer.problem(413)
    assert _count(tenant_a) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_wrong_content_type_is_415(tenant_a: Api, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = tenant_a.request("POST", "/v1/customers", raw=b'{"name": "Ann"}', headers=headers)

    answer.problem(415)


def test_merge_patch_content_type_is_accepted(tenant_a: Api) -> None:
    ann = tenant_a.create_customer(name="Ann")

    answer = tenant_a.patch(
        f"/v1/customers/{ann['id']}",
        {"name": "Anna"},
        headers={"Content-Type": "application/merge-patch+json"},
    )

    assert answer.status == 200 and answer.json["name"] == "Anna"


def test_an_unsupported_method_is_405_with_allow(tenant_a: Api) -> None:
    answer = tenant_a.request("PUT", "/v1/customers")

    answer.problem(405)
    assert set(answer.headers["allow"].split(", ")) == {"GET", "POST"}


def test_missing_and_unknown_keys_are_401(anonymous: Api) -> None:
    missing = anonymous.get("/v1/customers")
    unknown = anonymous.as_key("crm_not_a_real_key").get("/v1/customers")
    wrong_scheme = anonymous.get("/v1/customers", headers={"Authorization": "Basic abc"})

    for answer in (missing, unknown, wrong_scheme):
        answer.problem(401)
        assert answer.headers["www-authenticate"] == "Bearer"


def test_a_tenant_key_on_an_admin_route_is_403(tenant_a: Api) -> None:
    answer = tenant_a.post("/v1/admin/tenants", {"name": "Mine now"})

    assert "platform-admin" in answer.problem(403)["detail"]


def test_the_platform_key_is_refused_on_tenant_routes(platform: Api) -> None:
    answer = platform.get("/v1/customers")

    assert "/v1/admin" in answer.problem(403)["detail"]


def test_tenant_creation_validates_its_body(platform: Api) -> None:
    problem = platform.post("/v1/admin/tenants", {"name": "", "plan": "gold"}).problem(422)

    assert {issue["field"] for issue in problem["errors"]} == {"name", "plan"}


def test_every_problem_carries_the_request_id_header(tenant_a: Api) -> None:
    answer = tenant_a.get("/v1/customers/nope")

    assert answer.headers["x-request-id"] == answer.problem(404)["request_id"]
