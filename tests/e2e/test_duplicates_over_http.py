"""Duplicate detection over HTTP against DynamoDB Local: two profiles created through the
API become candidates once `make run`'s stream runner has drained the data stream."""

from __future__ import annotations

from devtools.stream_runner import read_failures, wait_until_drained
from tests.e2e.conftest import LocalStack
from tests.support.api import Api


def test_two_profiles_of_one_person_become_candidates(stack: LocalStack, tenant_a: Api) -> None:
    # Given two profiles of one person, created through the API (email and phone differ
    # only in what matching folds away)
    first = tenant_a.create_customer(
        name="Ann Lee", email="ann.lee@gmail.com", phone="+49 664 1234567"
    )["id"]
    second = tenant_a.create_customer(
        name="Ann Lee", email="annlee+app@googlemail.com", phone="+43 664 1234567"
    )["id"]

    # When the local stream runner has drained the data stream
    wait_until_drained(stack.local_dir)

    # Then both list each other with both reasons, and the tenant lists the pair once
    listed = tenant_a.get(f"/v1/customers/{first}/duplicates").json["items"]
    tenant_wide = tenant_a.get("/v1/duplicates").json["items"]
    assert [(c["customer_id"], c["reasons"], c["score"]) for c in listed] == [
        (second, ["email", "phone"], 98)
    ]
    assert [p["customer_ids"] for p in tenant_wide] == [sorted([first, second])]
    assert not [f for f in read_failures(stack.local_dir) if first in str(f)]
