"""Customer profiles through the API (Chalice test client, moto)."""

from __future__ import annotations

from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api

ANN = {
    "name": "Ann Lee",
    "email": "Ann.Lee@Example.COM",
    "phone": "+49 30 1234567",
    "external_id": "crm-001",
    "birthday": "1990-02-03",
    "gender": "female",
    "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "tags": ["VIP", "newsletter", "vip"],
    "attributes": {"favourite_store": "Mitte", "visits": 3, "score": 4.5, "member": True},
    "consent": {"email_marketing": True},
}


def test_create_answers_the_normalised_customer_with_location_and_etag(tenant_a: Api) -> None:
    answer = tenant_a.post("/v1/customers", ANN)

    assert answer.status == 201, answer.text
    body = answer.json
    assert body["id"].startswith("cus_")
    assert answer.headers["location"] == f"/v1/customers/{body['id']}"
    assert answer.headers["etag"] == '"1"'
    assert body["email"] == "ann.lee@example.com"
    assert body["phone"] == "+49301234567"
    assert body["tags"] == ["newsletter", "vip"]
    assert body["attributes"] == ANN["attributes"]
    assert body["consent"] == {"email_marketing": True, "sms_marketing": False}
    assert body["address"]["country"] == "DE" and body["address"]["line2"] is None
    assert body["version"] == 1
    assert body["created_at"] == body["updated_at"] and body["created_at"].endswith("Z")


def test_get_answers_what_was_stored(tenant_a: Api) -> None:
    created = tenant_a.create_customer(**ANN)

    fetched = tenant_a.get(f"/v1/customers/{created['id']}")

    assert fetched.status == 200
    assert fetched.json == created
    assert fetched.headers["etag"] == '"1"'


def test_if_none_match_with_current_etag_answers_304(tenant_a: Api) -> None:
    created = tenant_a.create_customer(name="Ann")

    answer = tenant_a.get(f"/v1/customers/{created['id']}", headers={"If-None-Match": '"1"'})

    assert answer.status == 304 and answer.text == ""


def test_patch_merges_attributes_and_consent_and_replaces_the_rest(tenant_a: Api) -> None:
    created = tenant_a.create_customer(**ANN)

    answer = tenant_a.patch(
        f"/v1/customers/{created['id']}",
        {
            "name": "Ann Smith",
            "birthday": None,
            "tags": ["gold"],
            "attributes": {"visits": 4, "favourite_store": None, "segment": "a"},
            "consent": {"sms_marketing": True},
        },
    )

    assert answer.status == 200, answer.text
    body = answer.json
    assert body["name"] == "Ann Smith"
    assert body["birthday"] is None
    assert body["email"] == "ann.lee@example.com"
    assert body["tags"] == ["gold"]
    assert body["attributes"] == {"visits": 4, "score": 4.5, "member": True, "segment": "a"}
    assert body["consent"] == {"email_marketing": True, "sms_marketing": True}
    assert body["version"] == 2
    assert answer.headers["etag"] == '"2"'
    assert tenant_a.get(f"/v1/customers/{created['id']}").json == body


def test_patch_with_nothing_new_keeps_the_version(tenant_a: Api) -> None:
    created = tenant_a.create_customer(name="Ann")

    answer = tenant_a.patch(f"/v1/customers/{created['id']}", {"name": "Ann"})

    assert answer.json["version"] == 1


def test_if_match_with_a_stale_etag_answers_412_and_changes_nothing(tenant_a: Api) -> None:
    created = tenant_a.create_customer(name="Ann")
    path = f"/v1/customers/{created['id']}"
    assert tenant_a.patch(path, {"name": "Ann B"}, headers={"If-Match": '"1"'}).status == 200

    stale = tenant_a.patch(path, {"name": "Ann C"}, headers={"If-Match": '"1"'})

    stale.problem(412)
    assert tenant_a.get(path).json["name"] == "Ann B"
    assert tenant_a.delete(path, headers={"If-Match": '"1"'}).status == 412
    assert tenant_a.get(path).status == 200


def test_if_match_with_the_current_etag_succeeds(tenant_a: Api) -> None:
    created = tenant_a.create_customer(name="Ann")
    path = f"/v1/customers/{created['id']}"

    answer = tenant_a.patch(path, {"name": "Ann B"}, headers={"If-Match": 'W/"1"'})

    assert answer.status == 200 and answer.json["version"] == 2
    assert tenant_a.delete(path, headers={"If-Match": '"2"'}).status == 204


def test_delete_removes_the_customer_and_frees_its_unique_values(tenant_a: Api) -> None:
    created = tenant_a.create_customer(**ANN)
    path = f"/v1/customers/{created['id']}"

    answer = tenant_a.delete(path)

    assert answer.status == 204 and answer.text == ""
    tenant_a.get(path).problem(404)
    assert tenant_a.get("/v1/customers?tag=vip").json["items"] == []
    assert tenant_a.get("/v1/customers?email=ann.lee@example.com").json["items"] == []
    again = tenant_a.create_customer(**ANN)
    assert again["id"] != created["id"]


def test_each_unique_field_conflicts_naming_the_field_and_the_holder(tenant_a: Api) -> None:
    holder = tenant_a.create_customer(**ANN)
    for field, value in [
        ("email", "ANN.LEE@example.com"),
        ("phone", "+4930 123 4567"),
        ("external_id", "crm-001"),
    ]:
        answer = tenant_a.post("/v1/customers", {"name": "Other", field: value})

        problem = answer.problem(409)
        assert problem["field"] == field
        assert problem["existing_id"] == holder["id"]
    assert [c["id"] for c in tenant_a.get("/v1/customers").json["items"]] == [holder["id"]]


def test_two_tenants_may_hold_the_same_email(tenant_a: Api, tenant_b: Api) -> None:
    in_a = tenant_a.create_customer(email="ann@example.com")

    in_b = tenant_b.post("/v1/customers", {"email": "ann@example.com"})

    assert in_b.status == 201 and in_b.json["id"] != in_a["id"]


def test_changing_a_unique_field_moves_the_claim(tenant_a: Api) -> None:
    ann = tenant_a.create_customer(name="Ann", email="ann@example.com")
    bob = tenant_a.create_customer(name="Bob", email="bob@example.com")

    taken = tenant_a.patch(f"/v1/customers/{bob['id']}", {"email": "ann@example.com"})
    moved = tenant_a.patch(f"/v1/customers/{ann['id']}", {"email": "ann@new.example"})
    reused = tenant_a.patch(f"/v1/customers/{bob['id']}", {"email": "ann@example.com"})

    assert taken.problem(409)["existing_id"] == ann["id"]
    assert moved.status == 200
    assert reused.status == 200, reused.text
    found = tenant_a.get("/v1/customers?email=ann@example.com").json["items"]
    assert [c["id"] for c in found] == [bob["id"]]
    found = tenant_a.get("/v1/customers?email=ann@new.example").json["items"]
    assert [c["id"] for c in found] == [ann["id"]]
    assert tenant_a.get("/v1/customers?email=bob@example.com").json["items"] == []


def test_clearing_a_unique_field_frees_it(tenant_a: Api) -> None:
    ann = tenant_a.create_customer(name="Ann", phone="+14155550100")

    tenant_a.patch(f"/v1/customers/{ann['id']}", {"phone": None})

    assert tenant_a.post("/v1/customers", {"phone": "+1 415 555 0100"}).status == 201


def test_look_ups_by_email_phone_and_external_id(tenant_a: Api) -> None:
    ann = tenant_a.create_customer(**ANN)
    tenant_a.create_customer(name="Bob", email="bob@example.com")

    for query in [
        "email=ANN.LEE%40example.com",
        "phone=%2B49301234567",
        "phone=%2B49%2030%201234567",
        "external_id=crm-001",
    ]:
        answer = tenant_a.get(f"/v1/customers?{query}")

        assert answer.status == 200, answer.text
        assert answer.json == {"items": [ann], "next_cursor": None}
    assert tenant_a.get("/v1/customers?email=nobody@example.com").json["items"] == []


def test_look_up_by_tag_pages_newest_first(tenant_a: Api) -> None:
    tagged = [tenant_a.create_customer(name=f"C{i}", tags=["vip"]) for i in range(5)]
    tenant_a.create_customer(name="untagged", tags=["other"])

    first = tenant_a.get("/v1/customers?tag=VIP&limit=2").json
    second = tenant_a.get(f"/v1/customers?tag=vip&limit=2&cursor={first['next_cursor']}").json
    third = tenant_a.get(f"/v1/customers?tag=vip&limit=2&cursor={second['next_cursor']}").json

    ids = [c["id"] for page in (first, second, third) for c in page["items"]]
    assert ids == [c["id"] for c in reversed(tagged)]
    assert third["next_cursor"] is None


def test_a_query_parameter_given_twice_is_refused_by_name(tenant_a: Api) -> None:
    # Given customers tagged vip and other
    tenant_a.create_customer(name="V", tags=["vip"])
    tenant_a.create_customer(name="O", tags=["other"])

    # When a list names the tag twice
    problem = tenant_a.get("/v1/customers?tag=vip&tag=other&limit=5").problem(422)

    # Then it is refused, naming the parameter, rather than answered for one of the values
    assert problem["errors"] == [
        {
            "field": "tag",
            "message": "given more than once; give each query parameter once",
            "code": "repeated",
        }
    ]
    assert [c["name"] for c in tenant_a.get("/v1/customers?tag=vip").json["items"]] == ["V"]


def test_list_pages_through_every_customer_newest_first(tenant_a: Api) -> None:
    created = [tenant_a.create_customer(name=f"C{i}") for i in range(7)]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        path = "/v1/customers?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = tenant_a.get(path).json
        seen += [c["id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [c["id"] for c in reversed(created)]
    assert pages == 3


def test_a_page_that_ends_exactly_at_the_last_customer_has_no_cursor(tenant_a: Api) -> None:
    for i in range(3):
        tenant_a.create_customer(name=f"C{i}")

    page = tenant_a.get("/v1/customers?limit=3").json

    assert len(page["items"]) == 3 and page["next_cursor"] is None


def test_only_the_read_of_one_customer_answers_its_metrics(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a customer with a purchase, its metrics kept by the data stream
    created = tenant_a.post(
        "/v1/customers", {"name": "Metered", "email": "metered@example.com", "tags": ["m"]}
    )
    customer = created.json["id"]
    purchase = {"type": "purchase", "amount": "10.00", "currency": "EUR", "order_id": "o-m"}
    assert tenant_a.post(f"/v1/customers/{customer}/interactions", purchase).status == 201
    streams.drain()

    # When it is read alone, listed, looked up and changed
    one = tenant_a.get(f"/v1/customers/{customer}").json
    listings = [
        tenant_a.get(path).json["items"]
        for path in (
            "/v1/customers",
            "/v1/customers?email=metered@example.com",
            "/v1/customers?tag=m",
        )
    ]
    patched = tenant_a.patch(f"/v1/customers/{customer}", {"tags": ["m", "n"]}).json

    # Then the read of one customer answers its metrics; list items (the profiles of a page,
    # read without their metrics items) and the answers of writes answer `"metrics": null`
    assert one["metrics"]["purchase_count"] == 1 and one["metrics"]["points_balance"] == 10
    assert [[(item["id"], item["metrics"]) for item in items] for items in listings] == [
        [(customer, None)]
    ] * 3
    assert created.json["metrics"] is None and patched["metrics"] is None
