"""Bulk imports (issue 16) through the API on moto: create, upload, process, progress,
failed rows, re-runs and tenant isolation. The import queue is stood in for by calling
the worker's entry with each checkpoint, as the queue's messages would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.tenancy import tenant_id
from chalicelib.services import imports
from tests.support.api import Answer, Api
from tests.support.grants import calls_granted_to

CUSTOMER_MAPPING = {
    "Customer no": "external_id",
    "Name": "name",
    "E-mail": "email",
    "Phone": "phone",
    "Born": "birthday",
    "Tags": "tags",
    "Newsletter": "consent.email_marketing",
    "Store": "attributes.store",
}
HEADER = "Customer no,Name,E-mail,Phone,Born,Tags,Newsletter,Store"


def import_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "customers",
        "format": "csv",
        "upsert_key": "external_id",
        "mapping": CUSTOMER_MAPPING,
    }
    body.update(overrides)
    return body


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def upload(tenant: Api, import_id: str, data: bytes, media_type: str = "text/csv") -> Answer:
    return tenant.request(
        "PUT", f"/v1/imports/{import_id}/file", headers={"Content-Type": media_type}, raw=data
    )


def run_to_end(tenant: Api, import_id: str) -> dict[str, Any]:
    """What the import queue does: the worker is called with each checkpoint until the
    import is no longer active."""
    assert tenant.tenant_id is not None
    for _ in range(1000):
        job = tenant.get(f"/v1/imports/{import_id}").json
        if job["status"] not in {"queued", "running"}:
            return dict(job)
        with calls_granted_to("ProcessImports"):
            imports.process_chunk_as_creator(
                tenant_id(tenant.tenant_id), import_id, job["bytes_done"]
            )
    raise AssertionError("the import did not finish")


def run_import(tenant: Api, data: bytes, **overrides: Any) -> dict[str, Any]:
    created = tenant.post("/v1/imports", import_body(**overrides))
    assert created.status == 202, created.text
    uploaded = upload(tenant, created.json["id"], data)
    assert uploaded.status == 202, uploaded.text
    return run_to_end(tenant, created.json["id"])


def test_create_answers_202_awaiting_the_file_with_where_to_send_it(tenant_a: Api) -> None:
    # Given an import of customers by external id
    # When it is created
    answer = tenant_a.post("/v1/imports", import_body())

    # Then it awaits its file, which goes to the API itself locally
    assert answer.status == 202, answer.text
    body = answer.json
    assert body["status"] == "awaiting_upload"
    assert body["upload"] == {"method": "PUT", "url": f"/v1/imports/{body['id']}/file"}
    assert answer.headers["location"] == f"/v1/imports/{body['id']}"
    assert body["mapping"] == CUSTOMER_MAPPING
    assert (body["rows_done"], body["failed"]) == (0, 0)


def test_rows_are_normalised_validated_and_created(tenant_a: Api) -> None:
    # Given a CSV with untidy values
    data = csv_file(
        'c-1,  Ann Lee  ,ANN@Example.COM,+49 30 1234567,1990-04-01,"vip;gold",yes,Berlin',
        "c-2,Bob,bob@example.com,,,,no,",
    )

    # When it is imported
    job = run_import(tenant_a, data)

    # Then both customers exist, normalised
    errors = tenant_a.get(f"/v1/imports/{job['id']}/errors").json["items"]
    assert errors == []
    assert (job["status"], job["created"], job["failed"], job["rows_done"]) == (
        "completed",
        2,
        0,
        2,
    )
    ann = tenant_a.get("/v1/customers?external_id=c-1").json["items"][0]
    assert ann["name"] == "Ann Lee"
    assert ann["email"] == "ann@example.com"
    assert ann["phone"] == "+49301234567"
    assert ann["birthday"] == "1990-04-01"
    assert ann["tags"] == ["gold", "vip"]
    assert ann["consent"]["email_marketing"] is True
    assert ann["attributes"] == {"store": "Berlin"}
    bob = tenant_a.get("/v1/customers?external_id=c-2").json["items"][0]
    assert bob["phone"] is None and bob["consent"]["email_marketing"] is False


def test_running_the_same_file_again_changes_nothing(tenant_a: Api) -> None:
    # Given a file imported once
    data = csv_file("c-1,Ann,ann@example.com,+4930123456,,vip,yes,Berlin")
    run_import(tenant_a, data)
    before = tenant_a.get("/v1/customers?external_id=c-1").json["items"][0]

    # When it is imported again
    again = run_import(tenant_a, data)

    # Then every row is unchanged and the customer keeps its version
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)
    after = tenant_a.get("/v1/customers?external_id=c-1").json["items"][0]
    assert after["version"] == before["version"]
    assert after["updated_at"] == before["updated_at"]


def test_an_existing_customer_changes_only_in_the_fields_the_row_holds(tenant_a: Api) -> None:
    # Given a customer with a phone and a marketing consent
    customer = tenant_a.create_customer(
        external_id="c-1",
        name="Ann",
        phone="+4930123456",
        consent={"email_marketing": False, "sms_marketing": True},
    )

    # When a row names it with a new name and no phone or consent
    job = run_import(tenant_a, csv_file("c-1,Ann Lee,,,,,,"))

    # Then the name changed and nothing else
    assert (job["updated"], job["created"]) == (1, 0)
    after = tenant_a.get(f"/v1/customers/{customer['id']}").json
    assert after["name"] == "Ann Lee"
    assert after["phone"] == "+4930123456"
    assert after["consent"] == {"email_marketing": False, "sms_marketing": True}
    assert after["version"] == customer["version"] + 1


def test_upserting_by_email_finds_the_customer_whatever_its_case(tenant_a: Api) -> None:
    # Given a customer known by email
    customer = tenant_a.create_customer(email="ann@example.com")

    # When an import by email names it in upper case with an external id
    job = run_import(
        tenant_a,
        csv_file("c-9,Ann,ANN@EXAMPLE.COM,,,,,"),
        upsert_key="email",
    )

    # Then the same customer took the external id
    assert (job["updated"], job["created"]) == (1, 0)
    assert tenant_a.get(f"/v1/customers/{customer['id']}").json["external_id"] == "c-9"


def test_phones_without_a_country_code_use_the_tenant_default(tenant_a: Api) -> None:
    # Given a tenant whose imports default to Germany
    config = tenant_a.get("/v1/config")
    document = config.json["config"]
    document["imports"] = {"default_country": "DE"}
    assert (
        tenant_a.request(
            "PUT", "/v1/config", document, headers={"If-Match": config.headers["etag"]}
        ).status
        == 200
    ), "config"

    # When a row holds a national number
    job = run_import(tenant_a, csv_file("c-1,Ann,,030 1234567,,,,"))

    # Then it is stored as E.164
    assert job["created"] == 1
    ann = tenant_a.get("/v1/customers?external_id=c-1").json["items"][0]
    assert ann["phone"] == "+49301234567"


def test_failed_rows_are_listed_by_line_with_field_and_reason(tenant_a: Api) -> None:
    # Given a file with good and bad rows (one of them spans two lines)
    data = csv_file(
        "c-1,Ann,ann@example.com,,,,,",
        "c-2,Bob,not-an-email,,,,,",
        'c-3,"Cleo\nSecond line",,,,,,',
        "c-4,Dan,,030 1234,,,,",
        "c-5,Eve,,,31.12.1990,,,",
        "c-6,Fay,,,,,maybe,",
        ",Nobody,nobody@example.com,,,,,",
        "c-8,Too,few",
        "c-9,Gus,gus@example.com,,,,,",
    )

    # When it is imported
    job = run_import(tenant_a, data)

    # Then the good rows are in and each bad one is listed by its line
    assert (job["created"], job["failed"], job["rows_done"]) == (3, 6, 9)
    errors = tenant_a.get(f"/v1/imports/{job['id']}/errors").json
    assert [(e["line"], e["field"]) for e in errors["items"]] == [
        (3, "email"),
        (6, "phone"),
        (7, "birthday"),
        (8, "consent.email_marketing"),
        (9, "external_id"),
        (10, None),
    ]
    assert "columns" in errors["items"][-1]["message"]
    assert tenant_a.get("/v1/customers?external_id=c-3").json["items"][0]["name"] == (
        "Cleo\nSecond line"
    )
    assert tenant_a.get("/v1/customers?email=gus@example.com").json["items"][0]


def test_a_value_held_by_another_customer_fails_the_row(tenant_a: Api) -> None:
    # Given a customer holding an email
    tenant_a.create_customer(external_id="c-0", email="ann@example.com")

    # When another external id brings the same email
    job = run_import(tenant_a, csv_file("c-1,Ann,ann@example.com,,,,,"))

    # Then the row fails naming the field
    assert job["failed"] == 1
    error = tenant_a.get(f"/v1/imports/{job['id']}/errors").json["items"][0]
    assert (error["line"], error["field"]) == (2, "email")


def test_json_lines_import_and_their_errors(tenant_a: Api) -> None:
    # Given JSON Lines, one of them broken and one not an object
    lines = [
        json.dumps({"id": "j-1", "full_name": " Ann ", "mail": "Ann@Example.com"}),
        "{not json",
        json.dumps(["a list"]),
        "",
        json.dumps({"id": "j-2", "full_name": "Bob", "vip": True}),
    ]
    data = ("\n".join(lines)).encode()
    mapping = {"id": "external_id", "full_name": "name", "mail": "email", "vip": "attributes.vip"}

    # When it is imported
    job = run_import(tenant_a, data, format="jsonl", mapping=mapping)

    # Then the objects are customers and the rest are listed
    assert (job["created"], job["failed"]) == (2, 2)
    errors = tenant_a.get(f"/v1/imports/{job['id']}/errors").json["items"]
    assert [(e["line"], e["message"]) for e in errors] == [
        (2, "not a JSON object"),
        (3, "not a JSON object"),
    ]
    bob = tenant_a.get("/v1/customers?external_id=j-2").json["items"][0]
    assert bob["attributes"] == {"vip": True}


def test_a_file_that_is_not_utf8_fails_only_its_bad_rows(tenant_a: Api) -> None:
    # Given a row in Latin-1
    data = csv_file("c-1,Ann,,,,,,") + "c-2,Jos\xe9,,,,,,\n".encode("latin-1")

    # When it is imported
    job = run_import(tenant_a, data)

    # Then that row is reported as not UTF-8
    assert (job["created"], job["failed"]) == (1, 1)
    error = tenant_a.get(f"/v1/imports/{job['id']}/errors").json["items"][0]
    assert error["line"] == 3 and "UTF-8" in error["message"]


def test_a_header_without_a_mapped_column_fails_the_import(tenant_a: Api) -> None:
    # Given a header lacking the mapped "Store" column
    data = csv_file("c-1,Ann,,,,,", header="Customer no,Name,E-mail,Phone,Born,Tags,Newsletter")

    # When it is processed
    job = run_import(tenant_a, data)

    # Then the import failed, saying which column, and wrote nothing
    assert job["status"] == "failed"
    assert "Store" in job["failure"]
    assert tenant_a.get("/v1/customers?external_id=c-1").json["items"] == []


def test_csv_without_header_maps_columns_by_position_with_another_delimiter(
    tenant_a: Api,
) -> None:
    # Given a headerless, semicolon-separated file
    data = b"c-1;Ann;ann@example.com\nc-2;Bob;bob@example.com\n"

    # When it is imported by position
    job = run_import(
        tenant_a,
        data,
        mapping={"1": "external_id", "2": "name", "3": "email"},
        options={"delimiter": ";", "header_row": False},
    )

    # Then both rows are customers
    assert job["created"] == 2
    assert tenant_a.get("/v1/customers?external_id=c-2").json["items"][0]["name"] == "Bob"


def test_progress_counts_move_per_chunk_and_a_repeated_chunk_changes_nothing(
    tenant_a: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given chunks of two rows and a file of five
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    rows = [f"c-{n},Name {n},,,,,," for n in range(5)]
    created = tenant_a.post("/v1/imports", import_body()).json
    upload(tenant_a, created["id"], csv_file(*rows))
    tenant = tenant_id(str(tenant_a.tenant_id))

    # When the first chunk is processed, then its message is delivered again
    assert imports.process_chunk_as_creator(tenant, created["id"], 0) is True
    assert imports.process_chunk_as_creator(tenant, created["id"], 0) is False

    # Then the import is running with two rows done, counted once
    job = tenant_a.get(f"/v1/imports/{created['id']}").json
    assert (job["status"], job["rows_done"], job["created"]) == ("running", 2, 2)
    assert 0 < job["bytes_done"] < job["file_bytes"]
    assert job["rate"] is not None and job["eta_seconds"] is not None

    # And the rest completes it
    done = run_to_end(tenant_a, created["id"])
    assert (done["status"], done["rows_done"], done["created"], done["eta_seconds"]) == (
        "completed",
        5,
        5,
        0,
    )


def test_imports_are_listed_newest_first(tenant_a: Api) -> None:
    # Given two imports
    first = tenant_a.post("/v1/imports", import_body()).json
    second = tenant_a.post("/v1/imports", import_body(upsert_key="email")).json

    # When they are listed
    page = tenant_a.get("/v1/imports?limit=1").json
    rest = tenant_a.get(f"/v1/imports?cursor={page['next_cursor']}").json

    # Then the newest comes first
    assert [page["items"][0]["id"], rest["items"][0]["id"]] == [second["id"], first["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (import_body(kind="orders"), "kind"),
        (import_body(mapping={"x": "type", "id": "external_id"}), "mapping"),
        (import_body(format="xlsx"), "format"),
        (import_body(upsert_key="name"), "upsert_key"),
        (import_body(mapping={"x": "loyalty_points", "id": "external_id"}), "mapping"),
        (import_body(kind="interactions", mapping={"id": "external_id", "n": "name.x"}), "mapping"),
        (import_body(mapping={"Name": "name"}), "mapping"),
        (import_body(mapping={}), "mapping"),
        (import_body(mapping={"a": "name", "b": "name", "c": "external_id"}), "mapping"),
        (import_body(options={"delimiter": '"'}), "options.delimiter"),
        (import_body(options={"delimiter": ";;"}), "options.delimiter"),
    ],
)
def test_a_bad_import_is_refused_naming_the_field(
    tenant_a: Api, body: dict[str, Any], field: str
) -> None:
    # When an import is created with a bad part
    answer = tenant_a.post("/v1/imports", body)

    # Then it is refused naming that part, and nothing is created
    problem = answer.problem(422)
    assert field in [error["field"] for error in problem["errors"]]
    assert tenant_a.get("/v1/imports").json["items"] == []


def test_a_file_is_taken_once_and_never_empty(tenant_a: Api) -> None:
    # Given an import
    created = tenant_a.post("/v1/imports", import_body()).json

    # When an empty file is sent, then a real one, then another
    empty = upload(tenant_a, created["id"], b"")
    first = upload(tenant_a, created["id"], csv_file("c-1,Ann,,,,,,"))
    second = upload(tenant_a, created["id"], csv_file("c-2,Bob,,,,,,"))

    # Then the empty one is refused, the first queues it, the second conflicts
    assert empty.problem(422)["errors"][0]["field"] == "body"
    assert first.status == 202 and first.json["status"] == "queued"
    assert second.problem(409)["type"].endswith("import-state")


def test_start_without_an_uploaded_file_conflicts(tenant_a: Api) -> None:
    # Given an import whose file never arrived
    created = tenant_a.post("/v1/imports", import_body()).json

    # When it is started
    answer = tenant_a.post(f"/v1/imports/{created['id']}/start")

    # Then it conflicts and still awaits its file
    answer.problem(409)
    assert tenant_a.get(f"/v1/imports/{created['id']}").json["status"] == "awaiting_upload"


def test_another_tenants_import_is_not_found(tenant_a: Api, tenant_b: Api) -> None:
    # Given tenant A's import, run
    job = run_import(tenant_a, csv_file("c-1,Ann,,,,,,", "c-2,,bad,,,,,"))

    # When tenant B asks for it, its errors, or sends it a file
    reads = [
        tenant_b.get(f"/v1/imports/{job['id']}"),
        tenant_b.get(f"/v1/imports/{job['id']}/errors"),
        upload(tenant_b, job["id"], b"x"),
        tenant_b.post(f"/v1/imports/{job['id']}/start"),
    ]

    # Then each is 404 and B lists no imports and got no customer
    for answer in reads:
        answer.problem(404)
    assert tenant_b.get("/v1/imports").json["items"] == []
    assert tenant_b.get("/v1/customers?external_id=c-1").json["items"] == []


def test_unknown_import_ids_are_not_found(tenant_a: Api) -> None:
    for path in ("/v1/imports/imp_nope", "/v1/imports/" + "x" * 2000 + "/errors"):
        tenant_a.get(path).problem(404)


@pytest.mark.parametrize("role", ["readonly", "app", "customer"])
def test_only_admin_and_staff_keys_import(tenant_a: Api, key_with_role: Any, role: str) -> None:
    # Given a key of another role
    other = key_with_role(tenant_a, role)

    # When it creates or lists imports
    # Then it is refused
    other.post("/v1/imports", import_body()).problem(403)
    other.get("/v1/imports").problem(403)


def test_staff_keys_import_and_the_customers_are_written_as_that_key(
    tenant_a: Api, key_with_role: Any
) -> None:
    # Given a staff key
    staff = key_with_role(tenant_a, "staff")

    # When it imports a customer
    job = run_import(staff, csv_file("c-1,Ann,,,,,,"))

    # Then the customer exists and its item names the staff key and the import
    assert job["created"] == 1
    from chalicelib.dal import keys
    from chalicelib.dal.models import CustomerItem

    customer_id = tenant_a.get("/v1/customers?external_id=c-1").json["items"][0]["id"]
    item = CustomerItem.get(
        keys.customer_pk(tenant_id(str(tenant_a.tenant_id)), customer_id), keys.PROFILE_SK
    )
    assert item.written_role == "staff"
    assert item.written_request == job["id"]
    assert item.written_action == "import_customers"


def test_a_file_of_another_media_type_is_refused(tenant_a: Api) -> None:
    # Given an import
    created = tenant_a.post("/v1/imports", import_body()).json

    # When its file is sent as JSON
    answer = upload(tenant_a, created["id"], b'{"a": 1}', media_type="application/json")

    # Then it is refused and the import still awaits its file
    answer.problem(415)
    assert tenant_a.get(f"/v1/imports/{created['id']}").json["status"] == "awaiting_upload"


PURCHASE_MAPPING = {
    "customer": "external_id",
    "kind": "type",
    "total": "amount",
    "cur": "currency",
    "order": "order_id",
    "when": "occurred_at",
}


def test_purchases_import_and_earn_points_once_however_often_the_file_runs(
    tenant_a: Api,
) -> None:
    # Given a customer and a file of its purchases (one for a customer nobody has)
    customer = tenant_a.create_customer(external_id="c-1", name="Ann")
    data = csv_file(
        "c-1,purchase,80.00,EUR,o-1,2026-11-01T10:00:00Z",
        "c-1,purchase,20.50,EUR,o-2,2026-11-02T10:00:00Z",
        "c-404,purchase,5.00,EUR,o-3,2026-11-02T10:00:00Z",
        "c-1,purchase,abc,EUR,o-4,2026-11-02T10:00:00Z",
        header="customer,kind,total,cur,order,when",
    )

    # When it is imported twice
    first = run_import(tenant_a, data, kind="interactions", mapping=PURCHASE_MAPPING)
    again = run_import(tenant_a, data, kind="interactions", mapping=PURCHASE_MAPPING)

    # Then the purchases were recorded once and earned their points once
    assert (first["status"], first["created"], first["failed"]) == ("completed", 2, 2)
    assert (again["created"], again["unchanged"], again["failed"]) == (0, 2, 2)
    points = tenant_a.get(f"/v1/customers/{customer['id']}/points").json
    assert points["balance"] == 100
    timeline = tenant_a.get(f"/v1/customers/{customer['id']}/interactions").json["items"]
    assert sorted(item["order_id"] for item in timeline) == ["o-1", "o-2"]
    errors = tenant_a.get(f"/v1/imports/{first['id']}/errors").json["items"]
    assert [(e["line"], e["field"]) for e in errors][1] == (5, "amount")
    assert errors[0]["line"] == 4


@pytest.fixture
def imports_bucket(tenant_a: Api, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A deployed stage's file store: the imports bucket (on moto's S3)."""
    import boto3

    from chalicelib.settings import reset_settings

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="customer-ops-test-imports")
    monkeypatch.setenv("IMPORTS_BUCKET", "customer-ops-test-imports")
    reset_settings()
    yield s3
    reset_settings()


def test_deployed_files_go_to_the_bucket_by_presigned_url_then_start(
    tenant_a: Api, imports_bucket: Any
) -> None:
    # Given an import in a stage with an imports bucket
    created = tenant_a.post("/v1/imports", import_body()).json
    url = created["upload"]["url"]

    # When its file is PUT where the URL says (as the client would), and it is started
    assert url.startswith("https://") and "X-Amz-Signature=" in url
    assert f"imports/{tenant_a.tenant_id}/{created['id']}" in url
    imports_bucket.put_object(
        Bucket="customer-ops-test-imports",
        Key=f"imports/{tenant_a.tenant_id}/{created['id']}",
        Body=csv_file("c-1,Ann,,,,,,"),
    )
    started = tenant_a.post(f"/v1/imports/{created['id']}/start")
    job = run_to_end(tenant_a, created["id"])

    # Then it was read from the bucket, imported, and its file deleted
    assert started.status == 202 and started.json["status"] == "queued"
    assert (job["status"], job["created"]) == ("completed", 1)
    listed = imports_bucket.list_objects_v2(Bucket="customer-ops-test-imports")
    assert listed.get("KeyCount", 0) == 0


def test_deployed_stages_refuse_a_file_sent_to_the_api(tenant_a: Api, imports_bucket: Any) -> None:
    # Given an import in a stage with an imports bucket
    created = tenant_a.post("/v1/imports", import_body()).json

    # When its file is sent to the API itself
    answer = upload(tenant_a, created["id"], csv_file("c-1,Ann,,,,,,"))

    # Then it is refused, and the import still awaits its file
    assert "upload_url" in answer.problem(403)["detail"]
    assert tenant_a.get(f"/v1/imports/{created['id']}").json["status"] == "awaiting_upload"
