"""Customer merge over HTTP against DynamoDB Local (issue 16): a merge and an unmerge, a
merged customer's read redirected to the survivor by an ordinary HTTP client, and a merge
not done within its request (MERGE_REQUEST_BUDGET_SECONDS=0) answered 202 and finished by
the merge queue's consumer that `make run` runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import LocalStack, http_transport, start_stack
from tests.support.api import Answer, Api

MERGE_DONE_WITHIN_SECONDS = 60


def _purchase(api: Api, customer: str, amount: str, order_id: str) -> None:
    answer = api.post(
        f"/v1/customers/{customer}/interactions",
        {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order_id},
    )
    assert answer.status == 201, answer.text


def _balance(api: Api, customer: str) -> int:
    answer = api.get(f"/v1/customers/{customer}/points")
    assert answer.status == 200, answer.text
    return int(answer.json["balance"])


def test_merge_and_unmerge_over_http(tenant_a: Api) -> None:
    # Given two profiles of one person, each with purchases
    survivor = tenant_a.create_customer(name="Ann", email="ann.merge@example.com")["id"]
    source = tenant_a.create_customer(name="Ann L", phone="+49301234571")["id"]
    _purchase(tenant_a, survivor, "120", "http-merge-1")
    _purchase(tenant_a, source, "80", "http-merge-2")
    etag = tenant_a.get(f"/v1/customers/{survivor}").headers["etag"]

    # When the source is merged into the survivor
    merged = tenant_a.post(
        f"/v1/customers/{survivor}/merge", {"from": [source]}, headers={"If-Match": etag}
    )

    # Then the survivor holds both balances and the source's phone
    assert merged.status == 200, merged.text
    assert merged.json["state"] == "done"
    assert _balance(tenant_a, survivor) == 200
    # and a read of the source is redirected (the HTTP client follows the 301)
    followed = tenant_a.get(f"/v1/customers/{source}")
    assert followed.status == 200
    assert (followed.json["id"], followed.json["phone"]) == (survivor, "+49301234571")

    # When it is unmerged
    unmerged = tenant_a.post(f"/v1/customers/{survivor}/unmerge", {"source": source})

    # Then each has its own points and phone again
    assert unmerged.status == 200, unmerged.text
    assert (_balance(tenant_a, survivor), _balance(tenant_a, source)) == (120, 80)
    assert tenant_a.get(f"/v1/customers/{source}").json["phone"] == "+49301234571"


def _open_ticket(api: Api, customer: str) -> str:
    body = {
        "customer_id": customer,
        "category": "complaint",
        "subject": "Broken zip",
        "description": "It arrived broken.",
        "channel": "email",
    }
    answer = api.post("/v1/tickets", body)
    assert answer.status == 201, answer.text
    return str(answer.json["id"])


def test_a_merge_moves_the_sources_tickets_and_unmerge_moves_them_back(tenant_a: Api) -> None:
    # Given a source with a ticket moved on to open
    survivor = tenant_a.create_customer(name="Cy")["id"]
    source = tenant_a.create_customer(name="Cy B")["id"]
    ticket = _open_ticket(tenant_a, source)
    assert tenant_a.post(f"/v1/tickets/{ticket}/transitions", {"to": "open"}).status == 200
    etag = tenant_a.get(f"/v1/customers/{survivor}").headers["etag"]

    # When the source is merged into the survivor
    merged = tenant_a.post(
        f"/v1/customers/{survivor}/merge", {"from": [source]}, headers={"If-Match": etag}
    )

    # Then the ticket names the survivor, is listed under it, and its events are on its timeline
    assert merged.status == 200, merged.text
    assert tenant_a.get(f"/v1/tickets/{ticket}").json["customer_id"] == survivor
    listed = tenant_a.get(f"/v1/tickets?customer_id={survivor}").json["items"]
    assert [(t["id"], t["status"]) for t in listed] == [(ticket, "open")]
    timeline = tenant_a.get(f"/v1/customers/{survivor}/interactions").json["items"]
    assert {item["ticket"]["ticket_id"] for item in timeline if item["ticket"]} == {ticket}

    # When it is unmerged
    unmerged = tenant_a.post(f"/v1/customers/{survivor}/unmerge", {"source": source})

    # Then the ticket is the source's again
    assert unmerged.status == 200, unmerged.text
    assert tenant_a.get(f"/v1/tickets/{ticket}").json["customer_id"] == source
    back = tenant_a.get(f"/v1/tickets?customer_id={source}").json["items"]
    assert [t["id"] for t in back] == [ticket]
    assert tenant_a.get(f"/v1/tickets?customer_id={survivor}").json["items"] == []


@pytest.fixture(scope="module")
def one_step_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack whose merge requests run one step and hand the rest to the merge queue."""
    running = start_stack(
        tmp_path_factory.mktemp("merge-budget-0"),
        environ={"MERGE_REQUEST_BUDGET_SECONDS": "0"},
    )
    yield running
    running.stop()


def _interaction_ids(api: Api, customer: str) -> set[str]:
    answer = api.get(f"/v1/customers/{customer}/interactions?limit=100")
    assert answer.status == 200, answer.text
    return {item["id"] for item in answer.json["items"]}


def _merge(api: Api, survivor: str, source: str, etag: str) -> Answer:
    return api.post(
        f"/v1/customers/{survivor}/merge", {"from": [source]}, headers={"If-Match": etag}
    )


def _until_done(api: Api, location: str) -> dict[str, Any]:
    """The merge record once `done`, read from its status resource (bounded wait)."""
    deadline = time.monotonic() + MERGE_DONE_WITHIN_SECONDS
    while True:
        answer = api.get(location)
        assert answer.status == 200, answer.text
        if answer.json["state"] == "done":
            return dict(answer.json)
        assert time.monotonic() < deadline, f"the merge is still moving: {answer.text}"
        time.sleep(0.3)


def test_a_merge_not_done_within_its_request_answers_202_and_finishes_in_the_background(
    one_step_stack: LocalStack,
) -> None:
    # Given a stack with no request budget for merges, and two profiles of one person:
    # the source with purchases (and so points) and a ticket, the survivor with a purchase
    platform = Api(http_transport(one_step_stack.base_url), one_step_stack.admin_key)
    tenant = platform.create_tenant("Merge in the background")
    survivor = tenant.create_customer(name="Dee")["id"]
    source = tenant.create_customer(name="Dee K", phone="+49301234572")["id"]
    _purchase(tenant, survivor, "30", "bg-merge-s")
    for number in range(3):
        _purchase(tenant, source, "20", f"bg-merge-{number}")
    ticket = _open_ticket(tenant, source)
    interactions = _interaction_ids(tenant, survivor) | _interaction_ids(tenant, source)
    balance = _balance(tenant, survivor) + _balance(tenant, source)
    assert balance == 90
    etag = tenant.get(f"/v1/customers/{survivor}").headers["etag"]

    # When the source is merged into the survivor over HTTP
    started = _merge(tenant, survivor, source, etag)

    # Then the request answers 202 with the running record and where to follow it
    assert started.status == 202, started.text
    assert started.json["state"] == "moving" and started.json["finished_at"] is None
    location = started.headers["location"]
    assert location == f"/v1/customers/{survivor}/merges/{started.json['id']}"

    # When the merge queue's consumer has run (its status resource says `done`)
    done = _until_done(tenant, location)

    # Then the survivor holds the source's interactions, points and ticket
    assert (done["id"], done["source_ids"]) == (started.json["id"], [source])
    assert done["finished_at"] is not None and done["items_moved"] > 0
    assert _interaction_ids(tenant, survivor) == interactions
    assert _balance(tenant, survivor) == balance
    assert tenant.get(f"/v1/tickets/{ticket}").json["customer_id"] == survivor
    # and the source answers a read with 301 and a write with 409, both naming the survivor
    unfollowed = Api(http_transport(one_step_stack.base_url, follow_redirects=False), tenant.key)
    read = unfollowed.get(f"/v1/customers/{source}")
    assert read.problem(301)["merged_into"] == survivor
    assert read.headers["location"] == f"/v1/customers/{survivor}"
    write = tenant.patch(f"/v1/customers/{source}", {"name": "Dee Kay"})
    assert write.problem(409)["merged_into"] == survivor

    # When the same merge request is sent again
    repeated = _merge(tenant, survivor, source, etag)

    # Then it answers the finished record, and nothing moved twice
    assert repeated.status == 200, repeated.text
    assert repeated.json == done
    assert _interaction_ids(tenant, survivor) == interactions
    assert _balance(tenant, survivor) == balance
