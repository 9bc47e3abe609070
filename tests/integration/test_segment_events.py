"""Segment events: signed webhook POSTs to a local server on 127.0.0.1, retries, failed
events kept for inspection and replay."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api

SECRET = "whsec_local_test_secret"


@dataclass
class Receiver:
    """A webhook endpoint: records what it receives, answers `status`."""

    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(
                {
                    "body": body,
                    "signature": self.headers["Webhook-Signature"],
                    "answer": state.status,
                }
            )
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/crm"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


def _configure(tenant: Api, url: str) -> None:
    answer = tenant.request(
        "PUT",
        "/v1/config",
        {"webhook_url": url, "webhook_secret": SECRET},
        headers={"If-Match": '"0"'},
    )
    assert answer.status == 200, answer.text


def _valid(delivery: dict[str, Any]) -> bool:
    parts = dict(part.split("=", 1) for part in delivery["signature"].split(","))
    expected = hmac.new(
        SECRET.encode(), f"{parts['t']}.".encode() + delivery["body"], hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(parts["v1"], expected)


def test_entries_and_exits_reach_the_webhook_signed(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    # Given a tenant with a webhook
    _configure(tenant_a, receiver.url)
    # When a new customer appears and then buys
    customer = tenant_a.create_customer(name="Eve")["id"]
    streams.drain()
    bought = tenant_a.post(
        f"/v1/customers/{customer}/interactions",
        {"type": "purchase", "amount": "10", "currency": "EUR", "order_id": "e-1"},
    )
    assert bought.status == 201
    streams.drain()
    # Then each entry and exit was posted once, signed over its timestamp and body
    events = [json.loads(d["body"]) for d in receiver.received]
    assert all(_valid(d) for d in receiver.received)
    changes = {(e["type"], e["segment_id"]) for e in events}
    assert ("segment.entered", "lifecycle:prospect") in changes
    assert ("segment.exited", "lifecycle:prospect") in changes
    assert ("segment.entered", "lifecycle:new") in changes
    assert len(events) == len(changes) and {e["customer_id"] for e in events} == {customer}
    # and a second drain (stream redelivery) sends nothing again
    streams.drain()
    assert len(receiver.received) == len(events)


def test_failing_deliveries_are_kept_and_can_be_replayed(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    # Given a webhook that answers 503
    _configure(tenant_a, receiver.url)
    receiver.status = 503
    tenant_a.create_customer(name="Fay")
    # When the event is delivered
    streams.drain()
    # Then it was tried with retries and then kept as failed
    assert len(receiver.received) == 3
    failed = tenant_a.get("/v1/events/failed").json["items"]
    assert [(e["type"], e["segment_id"], e["status"]) for e in failed] == [
        ("segment.entered", "lifecycle:prospect", "failed")
    ]
    assert failed[0]["last_error"] == "HTTP 503"
    # When the receiver recovers and the event is replayed
    receiver.status = 200
    replayed = tenant_a.post(f"/v1/events/{failed[0]['id']}/replay")
    assert replayed.status == 202 and replayed.json["status"] == "pending"
    streams.drain()
    # Then it is delivered and no longer listed
    assert receiver.received[-1]["answer"] == 200
    assert json.loads(receiver.received[-1]["body"])["id"] == failed[0]["id"]
    assert tenant_a.get("/v1/events/failed").json["items"] == []
    assert tenant_a.post("/v1/events/evt_nothing/replay").status == 404
