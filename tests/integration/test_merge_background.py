"""A merge too large for one request continues on the merge queue (moto, issue 16): the
request answers 202 with the record and its status resource, the queue's consumer (run by
the local stream runner) finishes it, and a continuation delivered twice moves nothing
twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.merge import MergeRecord
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services import merge as merge_service
from chalicelib.settings import reset_settings
from tests.support.api import Answer, Api


def _tenant(api: Api) -> TenantId:
    assert api.tenant_id is not None
    return tenant_id(api.tenant_id)


def _bought(api: Api, customer: str, amount: str, order_id: str) -> None:
    body = {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order_id}
    answer = api.post(f"/v1/customers/{customer}/interactions", body)
    assert answer.status == 201, answer.text


def _merge(api: Api, survivor: str, sources: list[str]) -> Answer:
    etag = api.get(f"/v1/customers/{survivor}").headers["etag"]
    return api.post(
        f"/v1/customers/{survivor}/merge", {"from": sources}, headers={"If-Match": etag}
    )


def _balance(api: Api, customer: str) -> int:
    answer = api.get(f"/v1/customers/{customer}/points")
    assert answer.status == 200, answer.text
    return int(answer.json["balance"])


def _interaction_ids(api: Api, customer: str) -> set[str]:
    answer = api.get(f"/v1/customers/{customer}/interactions?limit=100")
    assert answer.status == 200, answer.text
    return {item["id"] for item in answer.json["items"]}


@pytest.fixture
def one_step_per_share(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every share of a merge (the request's, each continuation's) runs one step only."""
    monkeypatch.setenv("MERGE_REQUEST_BUDGET_SECONDS", "0")
    reset_settings()
    monkeypatch.setattr(merge_service, "CONTINUATION_BUDGET", timedelta(0))


def _customers_with_history(api: Api) -> tuple[str, str, set[str], int]:
    survivor = api.create_customer(name="Ann")["id"]
    source = api.create_customer(name="Bea")["id"]
    _bought(api, survivor, "10", "o-s")
    for number in range(30):
        _bought(api, source, "5", f"o-{number}")
    expected = _interaction_ids(api, survivor) | _interaction_ids(api, source)
    return survivor, source, expected, _balance(api, survivor) + _balance(api, source)


def test_a_merge_not_done_within_the_request_answers_202_and_finishes_on_the_queue(
    tenant_a: Api, streams: Any, one_step_per_share: None
) -> None:
    # Given a source with more items than one step moves
    survivor, source, expected, balances = _customers_with_history(tenant_a)

    # When it is merged and the request's share of the steps runs out
    answer = _merge(tenant_a, survivor, [source])

    # Then the request answers 202 with the running record and where to follow it
    assert answer.status == 202, answer.text
    assert (answer.json["state"], answer.json["steps"]) == ("moving", 1)
    location = answer.headers["location"]
    assert location == f"/v1/customers/{survivor}/merges/{answer.json['id']}"
    status = tenant_a.get(location)
    assert status.status == 200, status.text
    assert status.json["state"] == "moving" and status.json["finished_at"] is None
    # and the source already reads as merged
    assert tenant_a.get(f"/v1/customers/{source}").problem(301)["merged_into"] == survivor

    # When the merge queue's consumer runs its continuations
    streams.drain()

    # Then the merge is done and the survivor holds every interaction and point, once
    done = tenant_a.get(location).json
    assert done["state"] == "done" and done["finished_at"] is not None
    assert done["steps"] > 1
    assert _interaction_ids(tenant_a, survivor) == expected
    assert _balance(tenant_a, survivor) == balances


def test_a_continuation_delivered_twice_moves_nothing_twice(
    tenant_a: Api, streams: Any, one_step_per_share: None
) -> None:
    # Given a merge handed to the queue after its first step
    survivor, source, expected, balances = _customers_with_history(tenant_a)
    answer = _merge(tenant_a, survivor, [source])
    assert answer.status == 202, answer.text
    merge_id = answer.json["id"]
    sent: list[MergeRecord] = []

    # When the same continuation is delivered twice, then the queue drains
    shares = [
        merge_service.continue_merge(
            _tenant(tenant_a), survivor, merge_id, continue_later=lambda _t, r: sent.append(r)
        )
        for _ in range(2)
    ]
    streams.drain()

    # Then the second delivery resumed from the step the first stored (and finished the
    # source's 62 items, 48 a step), and every item and point arrived exactly once
    assert [record.steps for record in sent] == [2]
    assert [(r.state.value, r.steps) for r in shares if r is not None] == [
        ("moving", 2),
        ("done", 2),
    ]
    done = tenant_a.get(f"/v1/customers/{survivor}/merges/{merge_id}").json
    assert done["state"] == "done"
    assert _interaction_ids(tenant_a, survivor) == expected
    assert _balance(tenant_a, survivor) == balances
    # and a continuation of the finished merge changes nothing
    again = merge_service.continue_merge(_tenant(tenant_a), survivor, merge_id, sent.append)
    assert again is not None and (again.steps, again.items_moved) == (
        done["steps"],
        done["items_moved"],
    )
    assert len(sent) == 1


def test_a_continuation_that_cannot_be_queued_is_503_and_the_same_request_resumes(
    tenant_a: Api,
    streams: Any,
    one_step_per_share: None,
    environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a merge queue that refuses messages (a queue URL that names no queue)
    survivor, source, expected, balances = _customers_with_history(tenant_a)
    etag = tenant_a.get(f"/v1/customers/{survivor}").headers["etag"]
    working_queue = environment["MERGE_QUEUE_URL"]
    monkeypatch.setenv("MERGE_QUEUE_URL", working_queue + "-gone")
    reset_settings()

    # When the merge's first step is done and its continuation cannot be queued
    refused = tenant_a.post(
        f"/v1/customers/{survivor}/merge", {"from": [source]}, headers={"If-Match": etag}
    )

    # Then the answer is 503 problem+json saying how to resume, and the step stands
    body = refused.problem(503)
    assert body["type"].endswith("queue-unavailable")
    assert "send the same merge request again" in body["detail"]
    assert refused.headers["retry-after"] == "1"
    assert tenant_a.get(f"/v1/customers/{source}").problem(301)["merged_into"] == survivor

    # When the queue is back and the same request is sent again
    monkeypatch.setenv("MERGE_QUEUE_URL", working_queue)
    reset_settings()
    resumed = tenant_a.post(
        f"/v1/customers/{survivor}/merge", {"from": [source]}, headers={"If-Match": etag}
    )
    assert resumed.status == 202, resumed.text
    streams.drain()

    # Then the merge finished, every interaction and point arriving once
    done = tenant_a.get(resumed.headers["location"]).json
    assert done["state"] == "done" and done["id"] == resumed.json["id"]
    assert _interaction_ids(tenant_a, survivor) == expected
    assert _balance(tenant_a, survivor) == balances


def test_an_unknown_merge_is_404(tenant_a: Api) -> None:
    # Given a customer never merged into
    survivor = tenant_a.create_customer(name="Ann")["id"]

    # When a merge of it is read by an unknown id
    answer = tenant_a.get(f"/v1/customers/{survivor}/merges/mrg_01J00000000000000000000000")

    # Then it is 404, naming the merge
    assert "mrg_01J00000000000000000000000" in answer.problem(404)["detail"]
