"""Acceptance for the audit trail under `make run`: over real HTTP, a customer's creation
and read leave request entries (the request path), a change entry attributed to the
caller's key (the data stream's second reader, `record_data_changes`), and a digest chain
that verifies (the audit table's reader, `chain_audit_trail`): all three stream consumers
of the local stream runner take part."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.stream_runner import wait_until_drained
from tests.e2e.conftest import LocalStack
from tests.support.api import Api


def _eventually(probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30) -> Any:
    """The probe's answer once `done` holds (or its last answer when time runs out)."""
    deadline = time.monotonic() + timeout
    answer = probe()
    while not done(answer) and time.monotonic() < deadline:
        time.sleep(0.3)
        answer = probe()
    return answer


def _query(values: dict[str, str]) -> str:
    return urllib.parse.urlencode(values)


def test_a_read_customer_has_request_and_change_entries_in_a_verified_trail(
    stack: LocalStack, platform: Api
) -> None:
    # Given a tenant and the id of the admin key it was given
    issued = platform.post("/v1/admin/tenants", {"name": "Audited", "plan": "enterprise"})
    assert issued.status == 201, issued.text
    tenant = platform.as_key(issued.json["api_key"]["key"], issued.json["id"])
    key_id = issued.json["api_key"]["id"]
    # A change entry is timed by its stream record's ApproximateCreationDateTime, which
    # DynamoDB Local rounds down to the minute (AWS: to the second): start a minute early.
    start = datetime.now(UTC) - timedelta(minutes=1)

    # When the key creates a customer and reads it
    created = tenant.post("/v1/customers", {"name": "Audra", "email": "audra@example.com"})
    assert created.status == 201, created.text
    customer_id = created.json["id"]
    read = tenant.get(f"/v1/customers/{customer_id}")
    assert read.status == 200, read.text
    # and the local stream runner has drained the data table's and the audit table's streams
    wait_until_drained(stack.local_dir, since=time.time())
    end = datetime.now(UTC)

    # Then the customer's trail holds the two requests, by the key, each under its request id
    trail = _eventually(
        lambda: tenant.get("/v1/audit?" + _query({"customer_id": customer_id})),
        lambda answer: any(e["kind"] == "change" for e in answer.json["items"]),
    )
    assert trail.status == 200, trail.text
    entries = trail.json["items"]
    requests = {e["action"]: e for e in entries if e["kind"] == "request"}
    assert set(requests) >= {"create_customer", "get_customer"}, entries
    for action, answer in (("create_customer", created), ("get_customer", read)):
        assert requests[action]["actor"] == key_id
        assert requests[action]["request_id"] == answer.headers["x-request-id"]
        assert requests[action]["outcome"] == str(answer.status)
        assert customer_id in requests[action]["customer_ids"]
    assert requests["create_customer"]["fields"] == ["email", "name"]
    # and the creation's change entry, from the data stream, attributed to the same key
    changes = [e for e in entries if e["kind"] == "change"]
    assert len(changes) == 1, changes
    (change,) = changes
    assert change["actor"] == key_id
    assert change["action"] == "create_customer"
    assert change["request_id"] == created.headers["x-request-id"]
    assert change["resource_type"] == "customer"
    assert change["resource_ids"] == [customer_id]
    assert change["detail"]["event"] == "insert"
    assert {"email", "name"} <= set(change["fields"])

    # and the chain over that time verifies, with the entries in digests already
    window = _query({"from": start.isoformat(), "to": end.isoformat()})
    verified = _eventually(
        lambda: tenant.get("/v1/audit/verify?" + window),
        lambda answer: answer.status != 200 or answer.json["pending"] == 0,
    )
    assert verified.status == 200, verified.text
    result = verified.json
    assert result["ok"] is True, result
    assert result["first_mismatch"] is None
    assert result["digests_checked"] >= 1
    assert result["entries_checked"] >= 3
    assert result["pending"] == 0
