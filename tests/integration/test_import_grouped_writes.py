"""Bulk import writes a chunk's customers in groups (issue 16, import speed): the stored
state, the progress counters and the failed rows are exactly those of writing each row on
its own in line order, for a file that mixes every case; and a re-run changes nothing."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.dal.customers import customer_count
from chalicelib.domain.tenancy import tenant_id
from chalicelib.services import imports
from tests.support.api import Api
from tests.support.imports import CUSTOMER_COLUMNS, CustomerRow, customers_csv

COUNTERS = ("status", "rows_done", "created", "updated", "unchanged", "failed")
PROFILE_FIELDS = ("external_id", "name", "email", "phone", "tags", "attributes", "version")


def seed(tenant: Api) -> None:
    """Customers the file finds (c-1, c-2) and one holding an email a new row asks for."""
    tenant.create_customer(external_id="c-1", name="Ann", email="ann@example.com", tags=["vip"])
    tenant.create_customer(external_id="c-2", name="Bob", email="bob@example.com")
    tenant.create_customer(external_id="c-9", name="Tom", email="taken@example.com")


MIXED_ROWS = [
    CustomerRow("c-1", "Ann Lee", "ann.lee@example.com", tags=["vip", "gold"]),
    CustomerRow("c-2", "Bob", "bob@example.com"),
    CustomerRow("c-3", "Cy", "cy@example.com", "+4930111111", ["new"], "Berlin"),
    CustomerRow("c-4", "Dee", "taken@example.com"),
    CustomerRow("c-5", "Eve"),
    CustomerRow("c-6", "Fay", "not-an-email"),
    CustomerRow("", "Nobody", "nobody@example.com"),
    CustomerRow("c-7", "Gus", "shared@example.com"),
    CustomerRow("c-8", "Hal", "shared@example.com"),
    CustomerRow("c-5", store="Paris"),
    CustomerRow("c-10", "Ivy", "ann@example.com"),
    CustomerRow("c-11", "Jo", phone="+4930222222", tags=["new"]),
    CustomerRow("c-12", "Kim", phone="+4930222222"),
]
"""Line 2 on: an update that frees ann@ (which c-10, line 12, then takes), an unchanged
row, new customers, an email another customer holds, a row created then given a store by a
later line, an invalid email, a missing key, and two new rows naming one email (and two
one phone): the later of each pair fails."""


def import_file(tenant: Api, data: bytes, grouped: bool) -> dict[str, Any]:
    """Create and upload an import, then do what the import queue does: call the worker
    with each checkpoint until the import is done (grouped, or each row on its own)."""
    created = tenant.post(
        "/v1/imports",
        {
            "kind": "customers",
            "format": "csv",
            "upsert_key": "external_id",
            "mapping": CUSTOMER_COLUMNS,
        },
    )
    assert created.status == 202, created.text
    import_id = created.json["id"]
    uploaded = tenant.request(
        "PUT", f"/v1/imports/{import_id}/file", headers={"Content-Type": "text/csv"}, raw=data
    )
    assert uploaded.status == 202, uploaded.text
    tenant_key = tenant_id(str(tenant.tenant_id))
    for _ in range(100):
        job = tenant.get(f"/v1/imports/{import_id}").json
        if job["status"] not in {"queued", "running"}:
            return dict(job)
        imports.process_chunk_as_creator(tenant_key, import_id, job["bytes_done"], grouped)
    raise AssertionError("the import did not finish")


def outcome(tenant: Api, job: dict[str, Any]) -> dict[str, Any]:
    """What an import leaves: its counters and failed rows, every customer's profile (by
    external id), who each email and phone resolves to, the tag listings and the count."""
    errors = tenant.get(f"/v1/imports/{job['id']}/errors?limit=100").json["items"]
    listed = tenant.get("/v1/customers?limit=100").json["items"]
    profiles = {
        customer["external_id"]: {name: customer[name] for name in PROFILE_FIELDS}
        for customer in listed
    }
    resolves = {}
    for customer in listed:
        for field in ("email", "phone"):
            if customer[field]:
                found = tenant.get(f"/v1/customers?{field}={quote(customer[field])}").json["items"]
                resolves[customer[field]] = [each["external_id"] for each in found]
    tagged = {
        tag: sorted(c["external_id"] for c in tenant.get(f"/v1/customers?tag={tag}").json["items"])
        for tag in ("vip", "gold", "new")
    }
    return {
        "counters": {name: job[name] for name in COUNTERS},
        "errors": errors,
        "profiles": profiles,
        "resolves": resolves,
        "tagged": tagged,
        "count": customer_count(tenant_id(str(tenant.tenant_id))),
    }


def test_grouped_writes_leave_what_row_by_row_writes_leave(tenant_a: Api, tenant_b: Api) -> None:
    # Given two tenants with the same customers and a file mixing every case
    seed(tenant_a)
    seed(tenant_b)
    data = customers_csv(MIXED_ROWS)

    # When one imports it row by row and the other in groups
    one_by_one = outcome(tenant_a, import_file(tenant_a, data, grouped=False))
    grouped = outcome(tenant_b, import_file(tenant_b, data, grouped=True))

    # Then both leave the same counters, failed rows, profiles, claims, listings and count
    assert grouped == one_by_one
    assert grouped["counters"] == {
        "status": "completed",
        "rows_done": 13,
        "created": 5,
        "updated": 2,
        "unchanged": 1,
        "failed": 5,
    }
    assert [(error["line"], error["field"]) for error in grouped["errors"]] == [
        (5, "email"),
        (7, "email"),
        (8, "external_id"),
        (10, "email"),
        (14, "phone"),
    ]
    assert grouped["profiles"]["c-10"]["email"] == "ann@example.com"
    assert grouped["profiles"]["c-5"]["name"] == "Eve"
    assert grouped["profiles"]["c-5"]["attributes"] == {"store": "Paris"}
    assert grouped["profiles"]["c-5"]["version"] == 2
    assert grouped["resolves"]["ann.lee@example.com"] == ["c-1"]
    assert grouped["tagged"] == {"vip": ["c-1"], "gold": ["c-1"], "new": ["c-11", "c-3"]}
    assert grouped["count"] == 3 + 5


def test_the_same_file_again_changes_nothing(tenant_a: Api) -> None:
    # Given the mixed file imported once, in groups
    seed(tenant_a)
    data = customers_csv(MIXED_ROWS)
    first = outcome(tenant_a, import_file(tenant_a, data, grouped=True))

    # When it is imported again
    again = outcome(tenant_a, import_file(tenant_a, data, grouped=True))

    # Then every valid row is unchanged, the same rows fail, and nothing stored moved
    assert again["counters"] == {
        "status": "completed",
        "rows_done": 13,
        "created": 0,
        "updated": 0,
        "unchanged": 8,
        "failed": 5,
    }
    assert again["errors"] == first["errors"]
    assert (again["profiles"], again["resolves"], again["tagged"], again["count"]) == (
        first["profiles"],
        first["resolves"],
        first["tagged"],
        first["count"],
    )


@pytest.mark.parametrize("grouped", [False, True])
def test_a_chunk_spanning_groups_counts_each_row_once(
    tenant_a: Api, monkeypatch: pytest.MonkeyPatch, grouped: bool
) -> None:
    # Given chunks of 20 rows and 40 new customers with five tags each (eight actions:
    # more than one transaction's worth of them per chunk)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 20)
    rows = [
        CustomerRow(f"n-{n}", f"Name {n}", f"n{n}@example.com", tags=list("abcde"))
        for n in range(40)
    ]

    # When it is imported
    job = import_file(tenant_a, customers_csv(rows), grouped)

    # Then each is created once and counted once
    assert (job["status"], job["created"], job["failed"], job["rows_done"]) == (
        "completed",
        40,
        0,
        40,
    )
    assert customer_count(tenant_id(str(tenant_a.tenant_id))) == 40
    found = tenant_a.get("/v1/customers?email=n39@example.com").json["items"]
    assert [customer["external_id"] for customer in found] == ["n-39"]
