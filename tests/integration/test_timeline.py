"""One timeline (issue 16): interactions and ticket events on a customer's timeline, over
the Chalice test client and moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.api import Api

Entry = dict[str, Any]
_TICKET_TYPES = {
    "created": "ticket_opened",
    "transitioned": "ticket_transitioned",
    "first_response": "ticket_first_response",
    "resolved": "ticket_resolved",
    "rated": "ticket_rated",
}


def _interaction(kind: str, minutes_from_now: int, **fields: Any) -> dict[str, Any]:
    moment = datetime.now(UTC) + timedelta(minutes=minutes_from_now)
    return {"type": kind, "channel": "store", "occurred_at": moment.isoformat(), **fields}


def _purchase(order_id: str, minutes_from_now: int) -> dict[str, Any]:
    return _interaction(
        "purchase", minutes_from_now, amount="10.00", currency="EUR", order_id=order_id
    )


def _record(api: Api, customer_id: str, body: dict[str, Any]) -> str:
    answer = api.post(f"/v1/customers/{customer_id}/interactions", body)
    assert answer.status == 201, answer.text
    return str(answer.json["id"])


def _open_ticket(api: Api, customer_id: str) -> str:
    body = {
        "customer_id": customer_id,
        "category": "complaint",
        "subject": "Broken zip",
        "description": "The zip broke on day one.",
        "channel": "email",
    }
    answer = api.post("/v1/tickets", body)
    assert answer.status == 201, answer.text
    return str(answer.json["id"])


def _move(api: Api, ticket_id: str, to: str, **extra: Any) -> None:
    answer = api.post(f"/v1/tickets/{ticket_id}/transitions", {"to": to, **extra})
    assert answer.status == 200, answer.text


def _timeline(api: Api, customer_id: str, query: str = "") -> tuple[list[Entry], str | None]:
    answer = api.get(f"/v1/customers/{customer_id}/interactions{query}")
    assert answer.status == 200, answer.text
    return list(answer.json["items"]), answer.json["next_cursor"]


def _walk(api: Api, customer_id: str, query: str) -> list[list[Entry]]:
    pages: list[list[Entry]] = []
    cursor: str | None = None
    while True:
        suffix = f"{query}&cursor={cursor}" if cursor else query
        items, cursor = _timeline(api, customer_id, suffix)
        pages.append(items)
        if cursor is None:
            return pages


@pytest.fixture
def history(tenant_a: Api) -> dict[str, str]:
    """A customer with a purchase two hours ago, a ticket opened, answered with a note,
    resolved and rated now, and a visit two minutes ahead."""
    customer = tenant_a.create_customer(name="Ann", email="ann@example.com")["id"]
    purchase = _record(tenant_a, customer, _purchase("o-1", -120))
    ticket = _open_ticket(tenant_a, customer)
    _move(tenant_a, ticket, "open", note="checked the stock: internal")
    _move(tenant_a, ticket, "resolved")
    rated = tenant_a.post(f"/v1/tickets/{ticket}/rating", {"score": 4, "customer_id": customer})
    assert rated.status == 201, rated.text
    visit = _record(tenant_a, customer, _interaction("visit", 2, location_id="berlin-1"))
    return {"customer": customer, "purchase": purchase, "visit": visit, "ticket": ticket}


def test_the_timeline_shows_interactions_and_ticket_events_newest_first(
    tenant_a: Api, history: dict[str, str]
) -> None:
    # When staff read the whole timeline
    items, cursor = _timeline(tenant_a, history["customer"])

    # Then the visit comes first, then the ticket's events newest first, then the purchase
    events = tenant_a.get(f"/v1/tickets/{history['ticket']}/events").json["items"]
    assert len(events) >= 4
    assert [item["type"] for item in items] == [
        "visit",
        *(_TICKET_TYPES[event["type"]] for event in reversed(events)),
        "purchase",
    ]
    assert [item["ticket"]["seq"] for item in items[1:-1]] == [
        event["seq"] for event in reversed(events)
    ]
    assert cursor is None
    assert items[0]["id"] == history["visit"] and items[0]["location_id"] == "berlin-1"
    assert items[-1]["id"] == history["purchase"] and items[-1]["order_id"] == "o-1"
    assert items[-1]["points"] == 10 and items[-1]["ticket"] is None
    by_type = {item["type"]: item["ticket"] for item in items}
    assert by_type["ticket_rated"]["ticket_id"] == history["ticket"]
    assert by_type["ticket_rated"]["score"] == 4 and by_type["ticket_rated"]["event"] == "rated"
    assert by_type["ticket_opened"]["subject"] == "Broken zip"
    moves = [item["ticket"] for item in items if item["type"] == "ticket_transitioned"]
    assert [(m["from_status"], m["to_status"]) for m in moves] == [
        ("open", "resolved"),
        ("new", "open"),
    ]
    assert moves[1]["note"] == "checked the stock: internal"
    assert {item["customer_id"] for item in items} == {history["customer"]}


def test_a_customer_token_sees_its_timeline_without_ticket_notes(
    tenant_a: Api, history: dict[str, str], customer_token: Callable[[Api, str], Api]
) -> None:
    # Given a customer token for the customer
    app = customer_token(tenant_a, history["customer"])

    # When it reads its timeline
    items, _ = _timeline(app, history["customer"])

    # Then it sees every entry, and no ticket event carries the staff note
    staff_items, _ = _timeline(tenant_a, history["customer"])
    assert [item["id"] for item in items] == [item["id"] for item in staff_items]
    assert all(item["ticket"]["note"] is None for item in items if item["ticket"])
    assert "checked the stock" not in str(items)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?type=ticket_resolved", ["ticket_resolved"]),
        ("?type=purchase,ticket_opened", ["ticket_opened", "purchase"]),
        ("?type=visit,purchase", ["visit", "purchase"]),
        ("?type=ticket_transitioned", ["ticket_transitioned", "ticket_transitioned"]),
    ],
)
def test_the_type_filter_takes_one_or_several_types_from_either_source(
    tenant_a: Api, history: dict[str, str], query: str, expected: list[str]
) -> None:
    # When staff filter the timeline by type
    items, _ = _timeline(tenant_a, history["customer"], query)

    # Then only those types show, still newest first
    assert [item["type"] for item in items] == expected


def test_an_unknown_type_is_refused_by_name(tenant_a: Api, history: dict[str, str]) -> None:
    # When staff filter by a type that does not exist
    answer = tenant_a.get(f"/v1/customers/{history['customer']}/interactions?type=visit,nope")

    # Then the problem names the field and the unknown type
    problem = answer.problem(422)
    assert [issue["field"] for issue in problem["errors"]] == ["type"]
    assert problem["errors"][0]["message"].startswith("unknown type nope;")


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_walk_both_sources_without_gaps_or_repeats(
    tenant_a: Api, history: dict[str, str], limit: int
) -> None:
    # Given the whole timeline in one page
    whole, _ = _timeline(tenant_a, history["customer"])

    # When staff walk it in small pages
    pages = _walk(tenant_a, history["customer"], f"?limit={limit}")

    # Then the pages hold the same entries in the same order, each page at most `limit`
    assert [item["id"] for page in pages for item in page] == [item["id"] for item in whole]
    assert all(0 < len(page) <= limit for page in pages)


def test_the_time_window_applies_to_both_sources(tenant_a: Api, history: dict[str, str]) -> None:
    # When staff ask for what happened from an hour ago until a minute from now
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    until = (datetime.now(UTC) + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    items, _ = _timeline(tenant_a, history["customer"], f"?from={since}&to={until}")

    # Then only the ticket's events show
    assert {item["type"] for item in items} == {
        "ticket_rated",
        "ticket_resolved",
        "ticket_transitioned",
        "ticket_first_response",
        "ticket_opened",
    }


def test_a_cursor_of_another_filter_is_refused(tenant_a: Api, history: dict[str, str]) -> None:
    # Given a cursor from the unfiltered timeline
    _, cursor = _timeline(tenant_a, history["customer"], "?limit=2")
    assert cursor is not None

    # When it is sent with a type filter
    answer = tenant_a.get(
        f"/v1/customers/{history['customer']}/interactions?type=purchase&cursor={cursor}"
    )

    # Then it is refused rather than misread
    assert "cursor" in answer.problem(400)["detail"]


def test_another_customers_ticket_events_stay_off_the_timeline(
    tenant_a: Api, history: dict[str, str]
) -> None:
    # Given another customer with a ticket of their own
    bea = tenant_a.create_customer(name="Bea")["id"]
    _open_ticket(tenant_a, bea)

    # When staff read Bea's timeline and Ann's ticket events
    bea_items, _ = _timeline(tenant_a, bea)
    ann_items, _ = _timeline(tenant_a, history["customer"], "?type=ticket_opened")

    # Then each sees their own ticket only
    assert [item["type"] for item in bea_items] == ["ticket_opened"]
    assert [item["ticket"]["ticket_id"] for item in ann_items] == [history["ticket"]]
