"""Acceptance: with `make run`'s stack, a CSV sent to the API is imported in the
background (the data stream asks for each chunk on the import queue; the local runner's
queue function processes it) and its customers read back over HTTP."""

from __future__ import annotations

import time
from typing import Any

from tests.support.api import Api

MAPPING = {"Customer no": "external_id", "Name": "name", "E-mail": "email"}


def _import_file(tenant: Api, data: bytes) -> str:
    created = tenant.post(
        "/v1/imports",
        {"kind": "customers", "format": "csv", "upsert_key": "external_id", "mapping": MAPPING},
    )
    assert created.status == 202, created.text
    import_id = str(created.json["id"])
    uploaded = tenant.request(
        "PUT",
        f"/v1/imports/{import_id}/file",
        headers={"Content-Type": "text/csv"},
        raw=data,
    )
    assert uploaded.status == 202, uploaded.text
    return import_id


def _finished(tenant: Api, import_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = tenant.get(f"/v1/imports/{import_id}").json
        if job["status"] in {"completed", "failed"}:
            return job
        time.sleep(0.5)
    raise TimeoutError(f"import {import_id} did not finish in time: {job}")


def test_an_uploaded_file_is_imported_in_the_background(tenant_a: Api) -> None:
    # Given a CSV of 60 customers with one bad row
    rows = [f"c-{n},Name {n},person{n}@example.com" for n in range(60)]
    rows[7] = "c-7,Name 7,not-an-email"
    data = ("Customer no,Name,E-mail\n" + "\n".join(rows) + "\n").encode()

    # When it is sent and the stack processes it
    job = _finished(tenant_a, _import_file(tenant_a, data))

    # Then it completed with every row accounted for, the bad one listed by line
    assert job["status"] == "completed", job
    assert (job["rows_done"], job["created"], job["failed"]) == (60, 59, 1)
    assert job["bytes_done"] == job["file_bytes"] == len(data)
    errors = tenant_a.get(f"/v1/imports/{job['id']}/errors").json["items"]
    assert [(e["line"], e["field"]) for e in errors] == [(9, "email")]
    customer = tenant_a.get("/v1/customers?external_id=c-59").json["items"][0]
    assert (customer["name"], customer["email"]) == ("Name 59", "person59@example.com")

    # And the same file again changes nothing
    again = _finished(tenant_a, _import_file(tenant_a, data))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 59)
