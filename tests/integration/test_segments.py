"""Segments through the Chalice test client on moto, with the local stream runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from chalicelib.dal import segments as repository
from chalicelib.domain.clock import utc_now
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services import segments
from chalicelib.streams.data_table import keep_customers_current
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api
from tests.support.streams import data_stream_records

RULE = {"field": "metrics.total_spend", "op": "gte", "value": 50}


def _owner(tenant: Api) -> TenantId:
    return tenant_id(str(tenant.tenant_id))


def _buy(tenant: Api, customer: str, amount: str, order: str, **extra: Any) -> None:
    body = {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order, **extra}
    answer = tenant.post(f"/v1/customers/{customer}/interactions", body)
    assert answer.status == 201, answer.text


def _segments_of(tenant: Api, customer: str) -> set[str]:
    answer = tenant.get(f"/v1/customers/{customer}/segments")
    assert answer.status == 200, answer.text
    return set(answer.json["segments"])


def test_a_write_moves_the_customer_between_segments(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    customer = tenant_a.create_customer(name="Ann")["id"]
    streams.drain()
    assert "lifecycle:prospect" in _segments_of(tenant_a, customer)

    _buy(tenant_a, customer, "80", "o-1")
    streams.drain()

    assert {"lifecycle:new", "rfm:recent"} <= _segments_of(tenant_a, customer)
    assert "lifecycle:prospect" not in _segments_of(tenant_a, customer)
    listed = {s["id"]: s["members"] for s in tenant_a.get("/v1/segments").json["items"]}
    assert listed["lifecycle:new"] == 1 and listed["lifecycle:prospect"] == 0
    metrics = tenant_a.get(f"/v1/customers/{customer}").json["metrics"]
    assert metrics["purchase_count"] == 1 and metrics["points_balance"] == 80


def test_delivering_a_whole_batch_twice_changes_nothing(
    tenant_a: Api, streams: LocalStreamRunner, environment: dict[str, str]
) -> None:
    # Given writes that the stream has applied
    customers = [tenant_a.create_customer(name=f"C{n}")["id"] for n in range(3)]
    for n, customer in enumerate(customers):
        _buy(tenant_a, customer, str(20 * (n + 1)), f"o-{n}")
    streams.drain()
    owner = _owner(tenant_a)
    before = {c: repository.get_state(owner, c) for c in customers}
    counts = repository.member_counts(owner)
    # When every record of the stream is delivered again, as one batch
    event = {"Records": data_stream_records(environment)}

    class Event:
        def to_dict(self) -> dict[str, Any]:
            return event

        context = None

    answer = keep_customers_current(Event())
    # Then nothing failed and nothing changed: same states (same versions), same counts
    assert answer == {"batchItemFailures": []}
    assert {c: repository.get_state(owner, c) for c in customers} == before
    assert repository.member_counts(owner) == counts


def test_a_poisoned_record_is_recorded_as_failed_and_the_rest_proceed(
    tenant_a: Api, streams: LocalStreamRunner, environment: dict[str, str]
) -> None:
    # Given a customer whose partition holds an interaction that cannot be read
    sick = tenant_a.create_customer(name="Sick")["id"]
    well = tenant_a.create_customer(name="Well")["id"]
    owner = _owner(tenant_a)
    boto3.client("dynamodb", region_name=environment["AWS_DEFAULT_REGION"]).put_item(
        TableName=environment["DATA_TABLE"],
        Item={
            "pk": {"S": f"T#{owner}#CUS#{sick}"},
            "sk": {"S": "INT#2026-01-01T00:00:00.000000Z#int_bad"},
            "entity": {"S": "interaction"},
            "interaction_id": {"S": "int_bad"},
            "type": {"S": "purchase"},
            "occurred_at": {"S": "2026-01-01T00:00:00.000000Z"},
            "details": {"S": "{not json"},
        },
    )
    _buy(tenant_a, well, "30", "o-well")
    # When the stream is drained
    streams.drain()
    # Then the poisoned record exhausted its retries and was recorded; the rest proceeded
    failed_keys = [f["keys"]["sk"]["S"] for f in streams.failures]
    assert "INT#2026-01-01T00:00:00.000000Z#int_bad" in failed_keys
    assert all(f["attempts"] == 6 for f in streams.failures)
    assert "lifecycle:new" in _segments_of(tenant_a, well)


def test_custom_segments_are_back_filled_and_follow_changes(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given customers who bought before the segment existed
    rich = tenant_a.create_customer(name="Rich")["id"]
    poor = tenant_a.create_customer(name="Poor")["id"]
    _buy(tenant_a, rich, "70", "o-rich")
    _buy(tenant_a, poor, "10", "o-poor")
    streams.drain()
    # When a segment is defined and the back-fill runs
    created = tenant_a.post("/v1/segments", {"name": "Spent 50", "rule": RULE})
    assert created.status == 201, created.text
    segment = created.json
    assert segment["backfill"]["status"] == "pending" and segment["members"] == 0
    segments.continue_backfills(_owner(tenant_a), utc_now().date(), deadline=1e12)
    streams.drain()
    # Then it holds exactly the matching customers and says the back-fill is done
    shown = tenant_a.get(f"/v1/segments/{segment['id']}").json
    assert shown["backfill"]["status"] == "done" and shown["backfill"]["processed"] == 2
    assert shown["members"] == 1
    members = tenant_a.get(f"/v1/segments/{segment['id']}/members").json
    assert members == {"items": [rich], "next_cursor": None}
    # and a later purchase brings the other customer in through the stream
    _buy(tenant_a, poor, "45", "o-poor-2")
    streams.drain()
    assert segment["id"] in _segments_of(tenant_a, poor)
    # and a deleted segment disappears, taking its memberships with it
    assert tenant_a.delete(f"/v1/segments/{segment['id']}").status == 204
    assert tenant_a.get(f"/v1/segments/{segment['id']}").status == 404
    segments.continue_backfills(_owner(tenant_a), utc_now().date(), deadline=1e12)
    assert segment["id"] not in _segments_of(tenant_a, rich)
    assert segment["id"] not in repository.member_counts(_owner(tenant_a))


def test_rules_are_validated_with_clear_errors(tenant_a: Api) -> None:
    bad = tenant_a.post(
        "/v1/segments",
        {"name": "Bad", "rule": {"all": [{"field": "metrics.spend", "op": "gt", "value": 1}]}},
    )
    problem = bad.problem(422)
    assert problem["errors"][0]["field"] == "rule.all.0.field"
    assert "metrics.spend" in problem["errors"][0]["message"]
    unknown = tenant_a.post(
        "/v1/segments",
        {"name": "Ref", "rule": {"field": "segments", "op": "contains", "value": "seg_nope"}},
    )
    assert unknown.problem(422)["errors"][0]["code"] == "unknown_segment"
    first = tenant_a.post("/v1/segments", {"name": "A", "rule": RULE}).json
    second_rule = {"field": "segments", "op": "contains", "value": first["id"]}
    second = tenant_a.post("/v1/segments", {"name": "B", "rule": second_rule}).json
    cycle = tenant_a.request(
        "PUT",
        f"/v1/segments/{first['id']}",
        {"name": "A", "rule": {"field": "segments", "op": "contains", "value": second["id"]}},
    )
    assert cycle.problem(422)["errors"][0]["code"] == "cycle"
    in_use = tenant_a.delete(f"/v1/segments/{first['id']}")
    assert in_use.problem(422)["errors"][0]["code"] == "in_use"


def test_segments_and_members_are_per_tenant(
    tenant_a: Api, tenant_b: Api, streams: LocalStreamRunner
) -> None:
    mine = tenant_a.create_customer(name="Mine")["id"]
    segment = tenant_a.post("/v1/segments", {"name": "A", "rule": RULE}).json
    streams.drain()
    assert tenant_b.get(f"/v1/segments/{segment['id']}").status == 404
    assert tenant_b.get(f"/v1/customers/{mine}/segments").status == 404
    assert tenant_b.get("/v1/segments/lifecycle:prospect/members").json["items"] == []


def test_member_listing_pages_across_shards(tenant_a: Api, streams: LocalStreamRunner) -> None:
    made = {tenant_a.create_customer(name=f"P{n}")["id"] for n in range(25)}
    streams.drain()
    seen: list[str] = []
    cursor = ""
    while True:
        page = tenant_a.get(f"/v1/segments/lifecycle:prospect/members?limit=7{cursor}").json
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted(made)


def test_the_daily_job_moves_customers_whose_day_has_come(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a customer whose last purchase was 89 days ago (active for one more day)
    customer = tenant_a.create_customer(name="Fading")["id"]
    when = (datetime.now(UTC) - timedelta(days=89)).isoformat()
    _buy(tenant_a, customer, "10", "o-old", occurred_at=when)
    streams.drain()
    owner = _owner(tenant_a)
    state = repository.get_state(owner, customer)
    assert state is not None and "lifecycle:active" in state.segments
    due = state.next_change
    assert due == utc_now().date() + timedelta(days=1)
    # When the daily job runs on that day
    assert list(repository.customers_due(owner, due)) == [customer]
    report = segments.refresh_due(owner, due)
    # Then it read that one customer and moved it to dormant
    assert (report.customers, report.changed) == (1, 1)
    moved = repository.get_state(owner, customer)
    assert moved is not None and "lifecycle:dormant" in moved.segments
    assert moved.next_change is not None and moved.next_change > due


def test_tickets_feed_open_tickets_last_complaint_and_feedback(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a customer with a complaint ticket
    customer = tenant_a.create_customer(name="Upset")["id"]
    ticket = tenant_a.post(
        "/v1/tickets",
        {
            "customer_id": customer,
            "category": "complaint",
            "subject": "Broken zip",
            "description": "The zip broke on day one.",
            "channel": "email",
        },
    )
    assert ticket.status == 201, ticket.text
    streams.drain()
    metrics = tenant_a.get(f"/v1/customers/{customer}").json["metrics"]
    assert metrics["open_tickets"] == 1 and metrics["last_complaint_at"] is not None
    # When it is resolved and rated
    ticket_id = ticket.json["id"]
    resolved = tenant_a.post(f"/v1/tickets/{ticket_id}/transitions", {"to": "resolved"})
    assert resolved.status == 200, resolved.text
    rated = tenant_a.post(f"/v1/tickets/{ticket_id}/rating", {"score": 2})
    assert rated.status in (200, 201), rated.text
    streams.drain()
    # Then the metrics follow
    metrics = tenant_a.get(f"/v1/customers/{customer}").json["metrics"]
    assert metrics["open_tickets"] == 0 and metrics["last_feedback_score"] == 2


def test_a_deleted_tenants_customers_are_not_refreshed(
    platform: Api, tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a customer of a tenant that is then deleted (its purge is pending)
    customer = tenant_a.create_customer(name="Gone")["id"]
    assert platform.delete(f"/v1/admin/tenants/{tenant_a.tenant_id}").status in (202, 204)
    # When the stream delivers the customer's records
    streams.drain()
    # Then nothing was written that the purge would have to race with
    assert repository.get_state(_owner(tenant_a), customer) is None
    assert repository.member_counts(_owner(tenant_a)) == {}
