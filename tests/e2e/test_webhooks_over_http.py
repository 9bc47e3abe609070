"""Acceptance: with `make run`'s stack, a segment entry reaches a real local HTTP receiver
as a Standard Webhooks request (through the data stream consumer, the webhook queue and
its consumer in the local runner), and a receiver that keeps failing ends the event in
GET /v1/events/failed after the queue's attempts (backoff 1 s, doubling, locally)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.api import Api
from tests.support.webhooks import SECRET, Receiver, running_receiver, standard_webhooks_valid


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hooks") as state:
        yield state


def _eventually(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not hold in time")
        time.sleep(0.2)


def _configure(tenant: Api, url: str) -> None:
    answer = tenant.request(
        "PUT",
        "/v1/config",
        {"webhook_url": url, "webhook_secret": SECRET},
        headers={"If-Match": '"0"'},
    )
    assert answer.status == 200, answer.text


def test_a_segment_entry_reaches_the_receiver_signed(tenant_a: Api, receiver: Receiver) -> None:
    # Given a tenant whose webhook is a local receiver
    _configure(tenant_a, receiver.url)
    # When a customer is created
    customer = tenant_a.create_customer(name="Web Hook")["id"]
    # Then the receiver gets its lifecycle entry, signed as Standard Webhooks specifies
    _eventually(lambda: len(receiver.received) >= 1)
    (delivery,) = receiver.received
    event = json.loads(delivery["body"])
    assert (event["type"], event["segment_id"], event["customer_id"]) == (
        "segment.entered",
        "lifecycle:prospect",
        customer,
    )
    assert standard_webhooks_valid(delivery)


def test_a_failing_receiver_ends_in_failed_events(tenant_a: Api, receiver: Receiver) -> None:
    # Given a receiver that answers 500
    receiver.status = 500
    _configure(tenant_a, receiver.url)
    # When a customer is created
    tenant_a.create_customer(name="Never Heard")
    # Then after the queue's attempts the event is listed as failed
    _eventually(lambda: bool(tenant_a.get("/v1/events/failed").json["items"]))
    (failed,) = tenant_a.get("/v1/events/failed").json["items"]
    assert failed["last_error"] == "receiver answered HTTP 500"
    assert len(receiver.received) == failed["attempts"] == 5
