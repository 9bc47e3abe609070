"""Service tickets over the Chalice test client and moto: lifecycle, comments, SLA fields,
ratings, listings and events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.tenant_config import SlaTarget, TenantConfig, TicketsConfig
from tests.support.api import Api

Ticket = dict[str, Any]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def open_ticket(api: Api, customer_id: str, **fields: Any) -> Ticket:
    body = {
        "customer_id": customer_id,
        "category": "complaint",
        "subject": "Broken zip",
        "description": "The zip broke on day one.",
        "channel": "email",
        **fields,
    }
    answer = api.post("/v1/tickets", body)
    assert answer.status == 201, answer.text
    return dict(answer.json)


def move(api: Api, ticket: Ticket, to: str, **extra: Any) -> Ticket:
    answer = api.post(f"/v1/tickets/{ticket['id']}/transitions", {"to": to, **extra})
    assert answer.status == 200, answer.text
    return dict(answer.json)


@pytest.fixture
def customer(tenant_a: Api) -> dict[str, Any]:
    return tenant_a.create_customer(name="Ann", email="ann@example.com")


def test_a_new_ticket_is_new_with_its_sla_due_times(
    tenant_a: Api, customer: dict[str, Any]
) -> None:
    # When staff open a ticket without a priority
    answer = tenant_a.post(
        "/v1/tickets",
        {
            "customer_id": customer["id"],
            "category": "after_sales",
            "subject": "Zip",
            "description": "Broken",
            "channel": "phone",
            "order_id": "o-1",
            "tags": ["Zips"],
        },
    )

    # Then it is new, normal priority, due in 8 h / 72 h, and readable at its location
    assert answer.status == 201, answer.text
    ticket = answer.json
    assert ticket["id"].startswith("tkt_") and ticket["status"] == "new"
    assert ticket["priority"] == "normal" and ticket["tags"] == ["zips"]
    created = _at(ticket["created_at"])
    assert _at(ticket["first_response_due"]) == created + timedelta(hours=8)
    assert _at(ticket["resolution_due"]) == created + timedelta(hours=72)
    assert ticket["first_response_at"] is None and ticket["resolved_at"] is None
    assert ticket["sla_breached"] == [] and ticket["rating"] is None
    assert answer.headers["etag"] == '"1"'
    fetched = tenant_a.get(answer.headers["location"])
    assert fetched.json["id"] == ticket["id"] and fetched.headers["etag"] == '"1"'


def test_the_tenants_sla_configuration_sets_the_targets(
    tenant_a: Api, customer: dict[str, Any]
) -> None:
    ticket = open_ticket(tenant_a, customer["id"], priority="urgent")

    created = _at(ticket["created_at"])
    assert _at(ticket["first_response_due"]) == created + timedelta(hours=1)
    assert _at(ticket["resolution_due"]) == created + timedelta(hours=8)


def test_a_ticket_needs_a_customer_of_the_tenant(tenant_a: Api, tenant_b: Api) -> None:
    theirs = tenant_b.create_customer(name="Bea")

    for customer_id in (theirs["id"], "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV"):
        answer = open_ticket_raw(tenant_a, customer_id)
        problem = answer.problem(422)
        assert problem["errors"][0]["field"] == "customer_id"
    assert tenant_a.get(f"/v1/tickets?customer_id={theirs['id']}").json["items"] == []


def open_ticket_raw(api: Api, customer_id: str) -> Any:
    return api.post(
        "/v1/tickets",
        {
            "customer_id": customer_id,
            "category": "inquiry",
            "subject": "s",
            "description": "d",
            "channel": "app",
        },
    )


def test_bad_ticket_input_is_422(tenant_a: Api, customer: dict[str, Any]) -> None:
    answer = tenant_a.post(
        "/v1/tickets",
        {
            "customer_id": customer["id"],
            "category": "rant",
            "subject": "",
            "description": "d",
            "channel": "pigeon",
            "priority": "whenever",
        },
    )

    fields = {issue["field"] for issue in answer.problem(422)["errors"]}
    assert {"category", "subject", "channel", "priority"} <= fields
    tenant_a.get("/v1/tickets/tkt_nope").problem(404)
    tenant_a.get("/v1/tickets/tkt_01ARZ3NDEKTSV4RRFFQ69G5FAV").problem(404)


def test_patch_changes_fields_and_honours_if_match(tenant_a: Api, customer: dict[str, Any]) -> None:
    ticket = open_ticket(tenant_a, customer["id"])
    path = f"/v1/tickets/{ticket['id']}"

    changed = tenant_a.patch(
        path,
        {"priority": "high", "assignee": "agent-7", "tags": ["x"]},
        headers={"If-Match": '"1"'},
    )
    stale = tenant_a.patch(path, {"category": "return"}, headers={"If-Match": '"1"'})
    unassigned = tenant_a.patch(path, {"assignee": None})
    null_priority = tenant_a.patch(path, {"priority": None})

    assert changed.status == 200, changed.text
    body = changed.json
    assert (body["priority"], body["assignee"], body["tags"], body["version"]) == (
        "high",
        "agent-7",
        ["x"],
        2,
    )
    assert _at(body["first_response_due"]) == _at(body["created_at"]) + timedelta(hours=4)
    stale.problem(412)
    assert unassigned.json["assignee"] is None and unassigned.json["version"] == 3
    null_priority.problem(422)
    assert tenant_a.get(path).json["category"] == "complaint"


def test_an_illegal_transition_is_409_listing_the_allowed_ones(
    tenant_a: Api, customer: dict[str, Any]
) -> None:
    ticket = open_ticket(tenant_a, customer["id"])

    answer = tenant_a.post(f"/v1/tickets/{ticket['id']}/transitions", {"to": "closed"})

    problem = answer.problem(409)
    assert problem["allowed_transitions"] == ["cancelled", "open", "resolved"]
    assert problem["status_now"] == "new"
    assert tenant_a.get(f"/v1/tickets/{ticket['id']}").json["status"] == "new"


def test_a_ticket_worked_to_closure_is_recorded_and_read_only(
    tenant_a: Api, customer: dict[str, Any], key_with_role: Callable[[Api, str], Api]
) -> None:
    # Given a ticket staff open, answer, park, resume, resolve and close
    staff = key_with_role(tenant_a, "staff")
    ticket = open_ticket(staff, customer["id"])
    path = f"/v1/tickets/{ticket['id']}"
    move(staff, ticket, "open")
    assert staff.post(f"{path}/comments", {"body": "Sending a new one"}).status == 201
    move(staff, ticket, "pending", note="waiting for the photo")
    move(staff, ticket, "open")
    resolved = move(staff, ticket, "resolved")
    closed = move(staff, ticket, "closed")

    # Then the history names each step, actor and time
    events = staff.get(f"{path}/events").json["items"]
    assert [(e["type"], e["from_status"], e["to_status"]) for e in events] == [
        ("created", None, "new"),
        ("transitioned", "new", "open"),
        ("first_response", None, None),
        ("transitioned", "open", "pending"),
        ("transitioned", "pending", "open"),
        ("transitioned", "open", "resolved"),
        ("resolved", None, None),
        ("transitioned", "resolved", "closed"),
    ]
    assert {e["actor"]["role"] for e in events} == {"staff"}
    assert events[3]["note"] == "waiting for the photo"
    assert resolved["resolved_at"] is not None and resolved["first_response_at"] is not None
    assert closed["status"] == "closed" and closed["sla_breached"] == []

    # And a closed ticket is read-only
    assert staff.patch(path, {"assignee": "x"}).problem(409)["detail"].endswith("read-only")
    staff.post(f"{path}/comments", {"body": "again"}).problem(409)
    assert (
        staff.post(f"{path}/transitions", {"to": "open"}).problem(409)["allowed_transitions"] == []
    )


def test_only_admins_cancel(
    tenant_a: Api, customer: dict[str, Any], key_with_role: Callable[[Api, str], Api]
) -> None:
    staff = key_with_role(tenant_a, "staff")
    ticket = open_ticket(staff, customer["id"])

    staff.post(f"/v1/tickets/{ticket['id']}/transitions", {"to": "cancelled"}).problem(403)
    cancelled = move(tenant_a, ticket, "cancelled")

    assert cancelled["status"] == "cancelled"


def test_customer_tokens_never_see_internal_notes(
    tenant_a: Api,
    customer: dict[str, Any],
    key_with_role: Callable[[Api, str], Api],
    customer_token: Callable[[Api, str], Api],
) -> None:
    # Given an app-created ticket with a public answer, an internal note and an app reply
    app = customer_token(tenant_a, customer["id"])
    ticket = open_ticket(app, customer["id"], channel="app")
    path = f"/v1/tickets/{ticket['id']}/comments"
    assert tenant_a.post(path, {"body": "We are on it"}).status == 201
    assert tenant_a.post(path, {"body": "Customer is a VIP", "internal": True}).status == 201
    assert app.post(path, {"body": "Thanks!"}).status == 201

    # When each lists the comments
    seen_by_app = app.get(path).json["items"]
    seen_by_staff = key_with_role(tenant_a, "readonly").get(path).json["items"]

    # Then the app sees the public ones only, oldest first; staff-side roles see all
    assert [c["body"] for c in seen_by_app] == ["We are on it", "Thanks!"]
    assert not any(c["internal"] for c in seen_by_app)
    assert [c["body"] for c in seen_by_staff] == ["We are on it", "Customer is a VIP", "Thanks!"]
    app.post(path, {"body": "sneaky", "internal": True}).problem(403)
    assert len(app.get(path).json["items"]) == 2
    app.get(f"/v1/tickets/{ticket['id']}/events").problem(403)


def test_comments_page_oldest_first(tenant_a: Api, customer: dict[str, Any]) -> None:
    ticket = open_ticket(tenant_a, customer["id"])
    path = f"/v1/tickets/{ticket['id']}/comments"
    for i in range(5):
        assert tenant_a.post(path, {"body": f"c{i}"}).status == 201

    first = tenant_a.get(f"{path}?limit=2").json
    second = tenant_a.get(f"{path}?limit=2&cursor={first['next_cursor']}").json
    third = tenant_a.get(f"{path}?limit=2&cursor={second['next_cursor']}").json

    bodies = [c["body"] for page in (first, second, third) for c in page["items"]]
    assert bodies == [f"c{i}" for i in range(5)]
    assert third["next_cursor"] is None
    assert tenant_a.get(f"/v1/tickets/{ticket['id']}").json["comment_count"] == 5
    tenant_a.get(f"{path}?cursor={first['next_cursor']}&public=1").problem(422)


def test_the_first_public_answer_is_the_first_response(
    tenant_a: Api, customer: dict[str, Any]
) -> None:
    ticket = open_ticket(tenant_a, customer["id"])
    path = f"/v1/tickets/{ticket['id']}"

    tenant_a.post(f"{path}/comments", {"body": "note", "internal": True})
    assert tenant_a.get(path).json["first_response_at"] is None
    answer = tenant_a.post(f"{path}/comments", {"body": "Hello"}).json

    assert tenant_a.get(path).json["first_response_at"] == answer["created_at"]


class TestRating:
    @pytest.fixture
    def resolved(self, tenant_a: Api, customer: dict[str, Any]) -> Ticket:
        ticket = open_ticket(tenant_a, customer["id"])
        return move(tenant_a, ticket, "resolved")

    def test_the_customer_rates_once_after_resolution(
        self,
        tenant_a: Api,
        customer: dict[str, Any],
        resolved: Ticket,
        customer_token: Callable[[Api, str], Api],
    ) -> None:
        app = customer_token(tenant_a, customer["id"])
        path = f"/v1/tickets/{resolved['id']}/rating"

        rated = app.post(path, {"score": 5, "comment": "Fast"})
        again = app.post(path, {"score": 1, "customer_id": customer["id"]})

        assert rated.status == 201, rated.text
        assert rated.json["rating"]["score"] == 5 and rated.json["rating"]["comment"] == "Fast"
        assert "already" in again.problem(409)["detail"]
        stored = tenant_a.get(f"/v1/tickets/{resolved['id']}").json["rating"]
        assert stored["score"] == 5
        events = tenant_a.get(f"/v1/tickets/{resolved['id']}/events").json["items"]
        assert (events[-1]["type"], events[-1]["score"]) == ("rated", 5)

    def test_a_customer_token_rates_only_its_customer_s_tickets(
        self,
        tenant_a: Api,
        customer: dict[str, Any],
        resolved: Ticket,
        key_with_role: Callable[[Api, str], Api],
        customer_token: Callable[[Api, str], Api],
    ) -> None:
        other = tenant_a.create_customer(name="Other")
        as_customer = customer_token(tenant_a, customer["id"])
        as_other = customer_token(tenant_a, other["id"])
        path = f"/v1/tickets/{resolved['id']}/rating"

        as_customer.post(path, {"score": 5, "customer_id": other["id"]}).problem(403)
        as_other.post(path, {"score": 5}).problem(404)
        key_with_role(tenant_a, "readonly").post(path, {"score": 5}).problem(403)

        assert tenant_a.get(f"/v1/tickets/{resolved['id']}").json["rating"] is None

    def test_an_unresolved_ticket_or_a_bad_score_is_refused(
        self, tenant_a: Api, customer: dict[str, Any]
    ) -> None:
        ticket = open_ticket(tenant_a, customer["id"])
        path = f"/v1/tickets/{ticket['id']}/rating"

        tenant_a.post(path, {"score": 4}).problem(409)
        tenant_a.post(path, {"score": 6}).problem(422)
        tenant_a.post(path, {"score": "5"}).problem(422)

    def test_staff_may_record_a_rating_for_a_closed_ticket(
        self, tenant_a: Api, resolved: Ticket
    ) -> None:
        move(tenant_a, resolved, "closed")

        rated = tenant_a.post(f"/v1/tickets/{resolved['id']}/rating", {"score": 3})

        assert rated.status == 201 and rated.json["rating"]["score"] == 3


class TestListings:
    def test_by_status_and_priority_newest_first(
        self, tenant_a: Api, customer: dict[str, Any]
    ) -> None:
        low = open_ticket(tenant_a, customer["id"], priority="low")
        high = open_ticket(tenant_a, customer["id"], priority="high")
        opened = open_ticket(tenant_a, customer["id"], priority="high")
        move(tenant_a, opened, "open")

        new = tenant_a.get("/v1/tickets?status=new").json["items"]
        new_high = tenant_a.get("/v1/tickets?status=new&priority=high").json["items"]
        open_ = tenant_a.get("/v1/tickets?status=open").json["items"]

        assert [t["id"] for t in new] == [high["id"], low["id"]]
        assert [t["id"] for t in new_high] == [high["id"]]
        assert [t["id"] for t in open_] == [opened["id"]] and open_[0]["status"] == "open"

    def test_by_assignee_and_by_customer(self, tenant_a: Api, customer: dict[str, Any]) -> None:
        other = tenant_a.create_customer(name="Other")
        first = open_ticket(tenant_a, customer["id"])
        second = open_ticket(tenant_a, customer["id"])
        theirs = open_ticket(tenant_a, other["id"])
        for ticket in (first, theirs):
            tenant_a.patch(f"/v1/tickets/{ticket['id']}", {"assignee": "agent-7"})
        move(tenant_a, first, "open")

        assigned = tenant_a.get("/v1/tickets?assignee=agent-7").json["items"]
        of_customer = tenant_a.get(f"/v1/tickets?customer_id={customer['id']}").json["items"]

        assert [t["id"] for t in assigned] == [theirs["id"], first["id"]]
        assert assigned[1]["status"] == "open"
        assert [t["id"] for t in of_customer] == [second["id"], first["id"]]
        tenant_a.patch(f"/v1/tickets/{theirs['id']}", {"assignee": None})
        assert [t["id"] for t in tenant_a.get("/v1/tickets?assignee=agent-7").json["items"]] == [
            first["id"]
        ]

    def test_pages_follow_cursors(self, tenant_a: Api, customer: dict[str, Any]) -> None:
        made = [open_ticket(tenant_a, customer["id"])["id"] for _ in range(5)]

        seen: list[str] = []
        for query in ("status=new", f"customer_id={customer['id']}"):
            seen = []
            cursor = ""
            while True:
                page = tenant_a.get(f"/v1/tickets?{query}&limit=2{cursor}").json
                seen += [t["id"] for t in page["items"]]
                if page["next_cursor"] is None:
                    break
                cursor = f"&cursor={page['next_cursor']}"
            assert seen == list(reversed(made))
        first = tenant_a.get("/v1/tickets?status=new&limit=2").json["next_cursor"]
        tenant_a.get(f"/v1/tickets?status=open&limit=2&cursor={first}").problem(400)

    def test_at_risk_lists_running_tickets_due_soon_soonest_first(
        self, tenant_a: Api, customer: dict[str, Any]
    ) -> None:
        urgent = open_ticket(tenant_a, customer["id"], priority="urgent")
        high = open_ticket(tenant_a, customer["id"], priority="high")
        normal = open_ticket(tenant_a, customer["id"])
        parked = open_ticket(tenant_a, customer["id"], priority="urgent")
        move(tenant_a, parked, "open")
        move(tenant_a, parked, "pending")

        within_hour = tenant_a.get("/v1/tickets?at_risk=true").json["items"]
        within_5h = tenant_a.get("/v1/tickets?at_risk=true&within_minutes=300").json["items"]
        within_day = tenant_a.get("/v1/tickets?at_risk=true&within_minutes=1440").json["items"]

        assert [t["id"] for t in within_hour] == [urgent["id"]]
        assert [t["id"] for t in within_5h] == [urgent["id"], high["id"]]
        assert [t["id"] for t in within_day] == [urgent["id"], high["id"], normal["id"]]

    def test_a_listing_needs_exactly_one_filter(self, tenant_a: Api) -> None:
        tenant_a.get("/v1/tickets").problem(422)
        tenant_a.get("/v1/tickets?status=new&assignee=x").problem(422)
        tenant_a.get("/v1/tickets?priority=high").problem(422)
        tenant_a.get("/v1/tickets?status=new&within_minutes=5").problem(422)


def test_ticket_events_live_in_the_customers_partition(
    tenant_a: Api, customer: dict[str, Any], dynamodb: Any, environment: dict[str, str]
) -> None:
    # Given a ticket opened and resolved
    ticket = open_ticket(tenant_a, customer["id"])
    move(tenant_a, ticket, "resolved")

    # When the customer's partition is read for ticket events
    stored = dynamodb.query(
        TableName=environment["DATA_TABLE"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={
            ":pk": {"S": f"T#{tenant_a.tenant_id}#CUS#{customer['id']}"},
            ":prefix": {"S": "TKTEV#"},
        },
    )["Items"]

    # Then each event is an item there, in time order, naming the ticket
    assert [item["type"]["S"] for item in stored] == [
        "created",
        "transitioned",
        "first_response",
        "resolved",
    ]
    assert {item["entity"]["S"] for item in stored} == {"ticket_event"}
    assert {item["ticket_id"]["S"] for item in stored} == {ticket["id"]}
    assert stored[0]["subject"]["S"] == "Broken zip"


def _configure(api: Api, config: TenantConfig) -> None:
    """Store a tenant configuration directly (its API is another issue's)."""
    from chalicelib.dal.models import TenantConfigItem
    from chalicelib.domain.clock import utc_now

    TenantConfigItem(
        pk=f"TENANT#{api.tenant_id}",
        sk="CONFIG",
        tenant_id=api.tenant_id,
        document=config.model_dump_json(),
        updated_at=utc_now(),
    ).save()


def test_the_tenants_configuration_sets_targets_and_the_reopen_window(
    tenant_a: Api, customer: dict[str, Any]
) -> None:
    # Given a tenant with a 2-hour first response for low priority and no reopen window
    sla = TicketsConfig().sla | {
        "low": SlaTarget(first_response_hours=Decimal(2), resolution_hours=Decimal("4.5"))
    }
    _configure(tenant_a, TenantConfig(tickets=TicketsConfig(sla=sla, reopen_window_days=0)))

    # When a low-priority ticket is opened, resolved and reopened
    ticket = open_ticket(tenant_a, customer["id"], priority="low")
    move(tenant_a, ticket, "resolved")
    reopen = tenant_a.post(f"/v1/tickets/{ticket['id']}/transitions", {"to": "open"})

    # Then its due times follow the tenant's targets, and the reopen is too late
    created = _at(ticket["created_at"])
    assert _at(ticket["first_response_due"]) == created + timedelta(hours=2)
    assert _at(ticket["resolution_due"]) == created + timedelta(hours=4, minutes=30)
    problem = reopen.problem(409)
    assert problem["allowed_transitions"] == ["closed"]
    assert "reopen window" in problem["detail"]


def test_a_priority_the_configuration_omits_gets_the_default_targets(
    tenant_a: Api, customer: dict[str, Any]
) -> None:
    only_low = {"low": SlaTarget(first_response_hours=Decimal(2), resolution_hours=Decimal(3))}
    _configure(tenant_a, TenantConfig(tickets=TicketsConfig(sla=only_low)))

    ticket = open_ticket(tenant_a, customer["id"], priority="high")

    created = _at(ticket["created_at"])
    assert _at(ticket["first_response_due"]) == created + timedelta(hours=4)
    assert _at(ticket["resolution_due"]) == created + timedelta(hours=24)


def test_a_resolved_ticket_reopens_within_the_default_window(
    tenant_a: Api, customer: dict[str, Any]
) -> None:
    ticket = open_ticket(tenant_a, customer["id"])
    move(tenant_a, ticket, "resolved")

    reopened = move(tenant_a, ticket, "open")

    assert reopened["status"] == "open" and reopened["resolved_at"] is None
    assert reopened["first_response_at"] is not None


def test_a_ticket_read_again_unchanged_is_304(tenant_a: Api, customer: dict[str, Any]) -> None:
    ticket = open_ticket(tenant_a, customer["id"])
    path = f"/v1/tickets/{ticket['id']}"

    unchanged = tenant_a.get(path, headers={"If-None-Match": '"1"'})
    move(tenant_a, ticket, "open")
    changed = tenant_a.get(path, headers={"If-None-Match": '"1"'})

    assert unchanged.status == 304 and unchanged.headers["etag"] == '"1"'
    assert changed.status == 200 and changed.json["status"] == "open"


def test_the_openapi_document_describes_the_ticket_routes(anonymous: Api) -> None:
    document = anonymous.get("/v1/openapi.json").json

    transitions = document["paths"]["/v1/tickets/{ticket_id}/transitions"]["post"]
    listing = document["paths"]["/v1/tickets"]["get"]
    problem = document["components"]["schemas"]["Problem"]["properties"]

    assert {"409", "412"} <= set(transitions["responses"])
    assert "allowed_transitions" in problem
    assert {"status", "priority", "assignee", "customer_id", "at_risk", "within_minutes"} <= {
        p["name"] for p in listing["parameters"]
    }
    assert "customer" in document["paths"]["/v1/tickets"]["post"]["description"]
