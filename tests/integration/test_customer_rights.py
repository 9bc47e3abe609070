"""Customers' rights over the Chalice test client and moto: the export holds exactly what
was written, and an erasure leaves no personal value in any item of any table."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3

from chalicelib.dal import loyalty as loyalty_repository
from chalicelib.dal import privacy
from chalicelib.dal.schema import ALL_TABLES
from chalicelib.domain.clock import utc_now
from chalicelib.domain.privacy import Erasure
from chalicelib.domain.tenancy import tenant_id
from chalicelib.services import loyalty_jobs
from chalicelib.services.campaigns import run_due_campaigns
from chalicelib.services.customers import get_customer
from chalicelib.streams.campaign_sends import queue_pages
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api
from tests.support.personal_data import (
    PERSONAL_VALUES,
    PROFILE,
    ok,
    readable_item,
    write_customer,
)


def _all_pages(api: Api, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        separator = "&" if "?" in path else "?"
        page = ok(api.get(path + (f"{separator}cursor={cursor}" if cursor else "")), 200)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _every_item(environment: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every item of every table the service defines (a Scan is fine in a test)."""
    client = boto3.client("dynamodb", region_name=environment["AWS_DEFAULT_REGION"])
    for spec in ALL_TABLES:
        table = environment[spec.environment_variable]
        for page in client.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                yield table, item


def _data_items(environment: dict[str, str]) -> list[str]:
    """Every item but the audit trail's (which records each request, repeats included)."""
    audit = environment["AUDIT_TABLE"]
    return sorted(readable_item(i) for t, i in _every_item(environment) if t != audit)


def _personal_values_in(environment: dict[str, str]) -> list[tuple[str, str, str]]:
    found = []
    for table, item in _every_item(environment):
        text = readable_item(item).lower()
        found += [
            (table, item["pk" if "pk" in item else "id"]["S"], v)
            for v in PERSONAL_VALUES
            if v in text
        ]
    return found


# Export.


def test_the_export_holds_everything_written_about_the_customer(tenant_a: Api) -> None:
    written = write_customer(tenant_a, extra_interactions=30)
    other = tenant_a.create_customer(name="Someone Else")
    path = f"/v1/customers/{written.id}"

    export = ok(tenant_a.get(f"{path}/export"), 200)

    assert export["customer"] == ok(tenant_a.get(path), 200)
    assert sorted(i["id"] for i in export["interactions"]) == sorted(
        i["id"] for i in written.interactions
    )
    by_id = {i["id"]: i for i in export["interactions"]}
    for sent in written.interactions:
        assert by_id[sent["id"]] == sent
    ledger = _all_pages(tenant_a, f"{path}/points/transactions")
    assert export["points"]["ledger"] == list(reversed(ledger))
    assert (
        sum(entry["points"] for entry in export["points"]["ledger"])
        == (export["points"]["balance"])
    )
    assert export["points"]["balance"] == ok(tenant_a.get(f"{path}/points"), 200)["balance"]
    (ticket,) = export["tickets"]
    stored = written.tickets[0]
    assert {k: v for k, v in ticket.items() if k not in ("comments", "events")} == stored
    assert [c["id"] for c in ticket["comments"]] == [
        c["id"] for c in written.comments[stored["id"]]
    ]
    assert [c["body"] for c in ticket["comments"]] == [
        "Dear Zelda, we are sorry",
        "Zelda sounded upset",
    ]
    events = _all_pages(tenant_a, f"/v1/tickets/{stored['id']}/events")
    assert ticket["events"] == events
    assert export["segments"]["customer_id"] == written.id
    trail = export["audit_entries"]
    assert {"create_customer", "record_interaction", "adjust_points"} <= {
        e["action"] for e in trail
    }
    assert all(written.id in e["customer_ids"] for e in trail)
    assert [e["at"] for e in trail] == sorted(e["at"] for e in trail)
    assert other["id"] not in json.dumps(export)


def test_the_partition_is_read_to_its_end_page_after_page(tenant_a: Api) -> None:
    written = write_customer(tenant_a, extra_interactions=12)
    tenant = tenant_id(str(tenant_a.tenant_id))

    in_pages_of_three = privacy.read_holdings(tenant, written.id, page_size=3)

    assert in_pages_of_three == privacy.read_holdings(tenant, written.id)
    assert len(in_pages_of_three.interactions) == len(written.interactions) == 16


def test_only_admin_keys_export(tenant_a: Api, key_with_role: Callable[[Api, str], Api]) -> None:
    customer = tenant_a.create_customer(name="Ann")
    for role in ("staff", "readonly", "app"):
        key_with_role(tenant_a, role).get(f"/v1/customers/{customer['id']}/export").problem(403)


def test_an_unknown_or_malformed_id_is_404(tenant_a: Api) -> None:
    tenant_a.get("/v1/customers/cus_01ARZ3NDEKTSV4RRFFQ69G5FAV/export").problem(404)
    tenant_a.get("/v1/customers/not-an-id/export").problem(404)
    tenant_a.delete("/v1/customers/not-an-id?erase=true").problem(404)


def test_another_tenant_can_neither_export_nor_erase(tenant_a: Api, tenant_b: Api) -> None:
    written = write_customer(tenant_a)
    path = f"/v1/customers/{written.id}"

    tenant_b.get(f"{path}/export").problem(404)
    tenant_b.delete(f"{path}?erase=true").problem(404)

    assert ok(tenant_a.get(path), 200)["email"] == "zelda.quixote@example.org"
    assert ok(tenant_a.get(f"{path}/export"), 200)["tickets"][0]["subject"].startswith("Zelda")


# Erasure.


def test_erasure_leaves_no_personal_value_in_any_table_and_keeps_the_books(
    tenant_a: Api, streams: LocalStreamRunner, environment: dict[str, str]
) -> None:
    written = write_customer(tenant_a)
    path = f"/v1/customers/{written.id}"
    streams.drain()
    before = ok(tenant_a.get(f"{path}/export"), 200)
    assert _personal_values_in(environment), "the test wrote no personal value"

    answer = tenant_a.delete(f"{path}?erase=true")
    streams.drain()

    assert answer.status == 204, answer.text
    assert _personal_values_in(environment) == []
    # the customer is gone from every read
    tenant_a.get(path).problem(404)
    tenant_a.get(f"{path}/export").problem(404)
    tenant_a.get(f"{path}/interactions").problem(404)
    tenant_a.get(f"{path}/points").problem(404)
    tenant_a.get(f"{path}/points/transactions").problem(404)
    # and nothing can be recorded for it any more (its points account is closed)
    purchase = {"type": "purchase", "amount": "5", "currency": "EUR", "order_id": "o-after"}
    tenant_a.post(f"{path}/interactions", purchase).problem(404)
    tenant_a.post(f"{path}/interactions", {"type": "visit"}).problem(404)
    tenant_a.post(f"{path}/points/adjust", {"points": 5, "reason": "x"}).problem(404)
    tenant_a.post(
        "/v1/tickets",
        {
            "customer_id": written.id,
            "category": "other",
            "subject": "s",
            "description": "d",
            "channel": "email",
        },
    ).problem(422)
    for query in (
        "email=zelda.quixote@example.org",
        "phone=%2B49309876543",
        "external_id=ext-zq-7781",
        "tag=quixotic-tag",
    ):
        assert ok(tenant_a.get(f"/v1/customers?{query}"), 200)["items"] == []
    assert written.id not in json.dumps(_all_pages(tenant_a, "/v1/customers"))
    for segment in before["segments"]["segments"]:
        assert written.id not in _all_pages(tenant_a, f"/v1/segments/{segment}/members")
    # what the books need stays: the ledger's points, the order claim, the ticket's counts
    items = [item for _, item in _every_item(environment) if "pk" in item]
    ledger = [
        i for i in items if i["pk"]["S"].endswith(written.id) and i["sk"]["S"].startswith("LEDGER#")
    ]
    assert sorted(int(i["points"]["N"]) for i in ledger) == sorted(
        e["points"] for e in before["points"]["ledger"]
    )
    order = next(i for i in items if i["pk"]["S"].endswith(f"#ORDER#order-{written.id}"))
    assert order["amount"]["S"] == "120.00"
    ticket = ok(tenant_a.get(f"/v1/tickets/{written.tickets[0]['id']}"), 200)
    assert (ticket["subject"], ticket["description"], ticket["tags"]) == (
        "[erased]",
        "[erased]",
        [],
    )
    assert ticket["comment_count"] == 2 and ticket["rating"]["score"] == 5
    assert ticket["rating"]["comment"] is None
    interactions = [
        i for i in items if i["pk"]["S"].endswith(written.id) and i["sk"]["S"].startswith("INT#")
    ]
    assert len(interactions) == len(written.interactions)
    purchase = next(i for i in interactions if i["type"]["S"] == "purchase")
    assert json.loads(purchase["details"]["S"]) == {
        "amount": "120.00",
        "currency": "EUR",
        "order_id": f"order-{written.id}",
    }


def test_erasing_again_answers_204_and_writes_nothing(
    tenant_a: Api, environment: dict[str, str]
) -> None:
    written = write_customer(tenant_a)
    path = f"/v1/customers/{written.id}"
    assert tenant_a.delete(f"{path}?erase=true").status == 204
    snapshot = _data_items(environment)

    assert tenant_a.delete(f"{path}?erase=true").status == 204

    assert _data_items(environment) == snapshot
    tenant_a.delete(path).problem(404)


def test_an_erasure_interrupted_after_the_profile_went_resumes(
    tenant_a: Api, environment: dict[str, str]
) -> None:
    """The first step (profile deleted, erasure recorded) ran; the sweep did not."""
    written = write_customer(tenant_a)
    tenant = tenant_id(str(tenant_a.tenant_id))
    customer = get_customer(tenant, written.id)
    privacy.erase_profile(tenant, customer, Erasure(written.id, utc_now(), "key_test"))
    tenant_a.get(f"/v1/customers/{written.id}").problem(404)
    assert _personal_values_in(environment)

    assert tenant_a.delete(f"/v1/customers/{written.id}?erase=true").status == 204

    assert _personal_values_in(environment) == []


def test_a_repeat_of_an_idempotent_request_after_the_erasure_answers_what_is_left(
    tenant_a: Api,
) -> None:
    written = write_customer(tenant_a)
    path = f"/v1/customers/{written.id}"
    feedback = {"type": "feedback", "rating": 2, "text": "The velvet armchair squeaked"}
    assert tenant_a.delete(f"{path}?erase=true").status == 204

    again = ok(
        tenant_a.post(
            f"{path}/interactions", feedback, headers={"Idempotency-Key": f"i-{written.id}-1"}
        )
    )

    assert again["id"] == written.interactions[1]["id"]
    assert (again["text"], again["rating"]) == (None, 2)


def test_erase_takes_true_or_false_and_only_admin_keys_may_send_it(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api]
) -> None:
    customer = tenant_a.create_customer(name="Ann", email="ann@example.com")
    path = f"/v1/customers/{customer['id']}"
    staff = key_with_role(tenant_a, "staff")

    problem = tenant_a.delete(f"{path}?erase=maybe").problem(422)
    assert [e["field"] for e in problem["errors"]] == ["erase"]
    tenant_a.delete(f"{path}?eras=true").problem(422)
    staff.delete(f"{path}?erase=true").problem(403)
    tenant_a.delete(path, headers={"If-Match": '"7"'}).problem(412)
    tenant_a.delete(f"{path}?erase=true", headers={"If-Match": '"7"'}).problem(412)

    assert tenant_a.delete(f"{path}?erase=false").status == 204
    tenant_a.delete(f"{path}?erase=true").problem(404)


def test_erasing_a_customer_deleted_earlier_anonymises_the_history_it_left(
    tenant_a: Api, environment: dict[str, str]
) -> None:
    written = write_customer(tenant_a)
    path = f"/v1/customers/{written.id}"
    assert tenant_a.delete(path).status == 204
    assert _personal_values_in(environment), "a plain delete leaves the partition"

    assert tenant_a.delete(f"{path}?erase=true").status == 204

    assert _personal_values_in(environment) == []
    assert tenant_a.delete(f"{path}?erase=true").status == 204


def test_the_erased_email_and_phone_are_free_again(tenant_a: Api) -> None:
    written = write_customer(tenant_a)
    assert tenant_a.delete(f"/v1/customers/{written.id}?erase=true").status == 204

    again = tenant_a.create_customer(email=PROFILE["email"], phone=PROFILE["phone"])

    assert again["id"] != written.id


def test_the_daily_job_still_expires_the_lots_of_an_erased_customer(tenant_a: Api) -> None:
    written = write_customer(tenant_a)
    tenant = tenant_id(str(tenant_a.tenant_id))
    purchase = written.interactions[0]
    assert tenant_a.delete(f"/v1/customers/{written.id}?erase=true").status == 204
    due = (datetime.fromisoformat(purchase["occurred_at"]) + timedelta(days=365)).date()

    assert loyalty_jobs.run_daily(due).expiry_checked >= 1

    ledger = list(loyalty_repository.iter_ledger(tenant, written.id))
    assert ledger[-1].type.value == "expire"
    assert sum(entry.points for entry in ledger) == 0
    account = loyalty_repository.get_account(tenant, written.id)
    assert account is not None and account.closed_at is not None


def test_erasure_deletes_the_campaign_messages_that_carried_the_customers_values(
    tenant_a: Api, streams: LocalStreamRunner, environment: dict[str, str]
) -> None:
    # Given a campaign message to Zoe, its text rendered with her name and email, published
    # to the tenant's webhook (a receiver that stays silent keeps the event pending)
    config = {"webhook_url": "http://127.0.0.1:9/hooks", "webhook_secret": "whsec_" + "A" * 32}
    assert tenant_a.request("PUT", "/v1/config", config, headers={"If-Match": '"0"'}).status == 200
    zoe = tenant_a.create_customer(
        name="Zoe Erasmus", email="zoe.erasmus@example.net", consent={"email_marketing": True}
    )["id"]
    streams.drain()
    campaign = {
        "name": "Hello",
        "audience": {"segment_id": "lifecycle:prospect"},
        "message": {"template": "Hello {{name}} <{{email}}>"},
        "channel": "email",
        "schedule": {"kind": "now"},
        "holdout_percent": 0,
    }
    campaign_id = ok(tenant_a.post("/v1/campaigns", campaign), 201)["id"]
    ok(tenant_a.post(f"/v1/campaigns/{campaign_id}/launch"), 200)
    run_due_campaigns(utc_now(), time.monotonic() + 30, queue_pages)
    streams.drain()

    def holding_her_values() -> list[str]:
        return [
            readable_item(item)
            for _, item in _every_item(environment)
            if "zoe.erasmus@example.net" in readable_item(item).lower()
            or "zoe erasmus" in readable_item(item).lower()
        ]

    assert any("segment_event" in item for item in holding_her_values())

    # When she is erased
    assert tenant_a.delete(f"/v1/customers/{zoe}?erase=true").status == 204
    streams.drain()

    # Then no item holds her values, the message's outbox event included; the message
    # itself stays on the campaign's books (no values in it)
    assert holding_her_values() == []
    results = ok(tenant_a.get(f"/v1/campaigns/{campaign_id}/results"), 200)
    assert results["sent"] == 1
