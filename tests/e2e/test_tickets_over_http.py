"""Tickets over HTTP against DynamoDB Local: concurrent transitions and the listings."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from threading import Barrier
from typing import Any

from tests.support.api import Answer, Api


def _open(api: Api, priority: str = "normal") -> dict[str, Any]:
    customer = api.create_customer(name="Ann")
    answer = api.post(
        "/v1/tickets",
        {
            "customer_id": customer["id"],
            "category": "return",
            "subject": "Wrong size",
            "description": "Need a 42",
            "channel": "store",
            "priority": priority,
        },
    )
    assert answer.status == 201, answer.text
    return dict(answer.json)


def _race(calls: list[Callable[[], Answer]]) -> list[Answer]:
    """Run the calls at the same moment, one thread each."""
    start = Barrier(len(calls))

    def run(call: Callable[[], Answer]) -> Answer:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_concurrent_transitions_with_if_match_have_one_winner(tenant_a: Api) -> None:
    # Given an open ticket at version 2
    ticket = _open(tenant_a)
    path = f"/v1/tickets/{ticket['id']}"
    opened = tenant_a.post(f"{path}/transitions", {"to": "open"})
    etag = opened.headers["etag"]

    # When two agents move it at once from the version they read
    answers = _race(
        [
            lambda: tenant_a.post(
                f"{path}/transitions", {"to": "pending"}, headers={"If-Match": etag}
            ),
            lambda: tenant_a.post(
                f"{path}/transitions", {"to": "resolved"}, headers={"If-Match": etag}
            ),
        ]
    )

    # Then exactly one lands and the other is told its version is stale
    statuses = sorted(a.status for a in answers)
    assert statuses == [200, 412], [a.text for a in answers]
    winner = next(a for a in answers if a.status == 200).json
    stored = tenant_a.get(path).json
    assert stored["status"] == winner["status"] and stored["version"] == 3
    events = tenant_a.get(f"{path}/events").json["items"]
    assert [e["type"] for e in events].count("transitioned") == 2


def test_two_concurrent_identical_transitions_have_one_winner(tenant_a: Api) -> None:
    ticket = _open(tenant_a)
    path = f"/v1/tickets/{ticket['id']}"

    answers = _race([lambda: tenant_a.post(f"{path}/transitions", {"to": "open"})] * 2)

    assert sorted(a.status for a in answers) == [200, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status == 409)
    assert loser.problem(409)["allowed_transitions"] == ["cancelled", "pending", "resolved"]
    stored = tenant_a.get(path).json
    assert (stored["status"], stored["version"]) == ("open", 2)


def test_concurrent_comments_all_land(tenant_a: Api) -> None:
    ticket = _open(tenant_a)
    path = f"/v1/tickets/{ticket['id']}/comments"

    answers = _race([partial(tenant_a.post, path, {"body": f"note {i}"}) for i in range(4)])

    assert [a.status for a in answers] == [201] * 4
    assert len(tenant_a.get(path).json["items"]) == 4
    assert tenant_a.get(f"/v1/tickets/{ticket['id']}").json["comment_count"] == 4


def test_listings_over_http(tenant_a: Api) -> None:
    urgent = _open(tenant_a, "urgent")
    normal = _open(tenant_a)
    tenant_a.patch(f"/v1/tickets/{normal['id']}", {"assignee": "agent-1"})

    by_status = tenant_a.get("/v1/tickets?status=new").json["items"]
    by_priority = tenant_a.get("/v1/tickets?status=new&priority=urgent").json["items"]
    by_assignee = tenant_a.get("/v1/tickets?assignee=agent-1").json["items"]
    by_customer = tenant_a.get(f"/v1/tickets?customer_id={urgent['customer_id']}").json["items"]
    at_risk = tenant_a.get("/v1/tickets?at_risk=true").json["items"]

    assert [t["id"] for t in by_status] == [normal["id"], urgent["id"]]
    assert [t["id"] for t in by_priority] == [urgent["id"]]
    assert [t["id"] for t in by_assignee] == [normal["id"]]
    assert [t["id"] for t in by_customer] == [urgent["id"]]
    assert [t["id"] for t in at_risk] == [urgent["id"]]


def test_ticket_routes_are_isolated_over_http(tenant_a: Api, tenant_b: Api) -> None:
    theirs = _open(tenant_b)
    path = f"/v1/tickets/{theirs['id']}"

    tenant_a.get(path).problem(404)
    tenant_a.post(f"{path}/transitions", {"to": "open"}).problem(404)
    tenant_a.post(f"{path}/comments", {"body": "x"}).problem(404)
    assert tenant_a.get("/v1/tickets?status=new").json["items"] == []
    assert tenant_b.get(path).json["status"] == "new"
