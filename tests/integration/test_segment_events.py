"""Segment events: queued by the data stream consumer, delivered by the webhook queue's
consumer as Standard Webhooks POSTs to a local server on 127.0.0.1 (one attempt per
receive), failed events kept for inspection and replay."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from chalicelib.dal.events import list_failed
from chalicelib.domain.paging import PageRequest
from chalicelib.domain.tenancy import tenant_id
from chalicelib.queues_config import WEBHOOK_QUEUE
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api
from tests.support.webhooks import (
    SECRET,
    Receiver,
    running_receiver,
    standard_webhooks_valid,
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hooks/crm") as state:
        yield state


def _configure(tenant: Api, url: str) -> None:
    answer = tenant.request(
        "PUT",
        "/v1/config",
        {"webhook_url": url, "webhook_secret": SECRET},
        headers={"If-Match": '"0"'},
    )
    assert answer.status == 200, answer.text


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
    # Then each entry and exit was posted once, signed as Standard Webhooks specifies
    events = [json.loads(d["body"]) for d in receiver.received]
    assert receiver.received and all(standard_webhooks_valid(d) for d in receiver.received)
    assert [d["headers"]["webhook-id"] for d in receiver.received] == [e["id"] for e in events]
    changes = {(e["type"], e["segment_id"]) for e in events}
    assert ("segment.entered", "lifecycle:prospect") in changes
    assert ("segment.exited", "lifecycle:prospect") in changes
    assert ("segment.entered", "lifecycle:new") in changes
    assert len(events) == len(changes) and {e["customer_id"] for e in events} == {customer}
    # and a second drain (stream redelivery) sends nothing again
    streams.drain()
    assert len(receiver.received) == len(events)


def test_a_redelivered_message_of_a_delivered_event_sends_nothing(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    from chalicelib.services.segment_events import enqueue_delivery

    # Given an event already delivered
    _configure(tenant_a, receiver.url)
    tenant_a.create_customer(name="Gil")
    streams.drain()
    (delivered,) = receiver.received
    # When its queue message arrives again (SQS delivers at least once)
    enqueue_delivery(tenant_id(tenant_a.tenant_id or ""), delivered["headers"]["webhook-id"])
    streams.drain()
    # Then the receiver got nothing more
    assert len(receiver.received) == 1


def test_the_stream_consumer_only_queues_and_the_queue_consumer_sends(
    tenant_a: Api,
    streams: LocalStreamRunner,
    receiver: Receiver,
    environment: dict[str, str],
) -> None:
    # Given a tenant with a webhook, and a runner of the stream consumers only (no queue)
    _configure(tenant_a, receiver.url)
    region = environment["AWS_DEFAULT_REGION"]
    streams_only = LocalStreamRunner(
        boto3.client("dynamodb", region_name=region),
        boto3.client(
            "dynamodbstreams",
            region_name=region,
            endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com",
        ),
        environ=dict(environment),
    )
    tenant_a.create_customer(name="Hal")
    # When the data stream's batches are handled
    streams_only.drain()
    # Then no receiver was called: the event waits as a message on the webhook queue
    assert receiver.received == []
    sqs = boto3.client("sqs", region_name=region)
    waiting = sqs.get_queue_attributes(
        QueueUrl=environment[WEBHOOK_QUEUE.queue_url_variable],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert waiting == "1"
    # And the queue's consumer is what sends it
    streams.drain()
    assert [json.loads(d["body"])["segment_id"] for d in receiver.received] == [
        "lifecycle:prospect"
    ]


def test_failing_deliveries_are_kept_and_can_be_replayed(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    # Given a webhook that answers 503
    _configure(tenant_a, receiver.url)
    receiver.status = 503
    tenant_a.create_customer(name="Fay")
    # When the event is delivered (the tests' backoff is 0 s: every receive at once)
    streams.drain()
    # Then it was tried once per receive, up to the queue's limit, and then kept as failed
    assert len(receiver.received) == WEBHOOK_QUEUE.max_receive_count
    failed = tenant_a.get("/v1/events/failed").json["items"]
    assert [(e["type"], e["segment_id"], e["status"]) for e in failed] == [
        ("segment.entered", "lifecycle:prospect", "failed")
    ]
    assert failed[0]["last_error"] == "receiver answered HTTP 503"
    assert failed[0]["attempts"] == WEBHOOK_QUEUE.max_receive_count
    # When the receiver recovers and the event is replayed
    receiver.status = 200
    replayed = tenant_a.post(f"/v1/events/{failed[0]['id']}/replay")
    assert replayed.status == 202 and replayed.json["status"] == "pending"
    streams.drain()
    # Then it is queued again, delivered and no longer listed
    assert receiver.received[-1]["answer"] == 200
    assert json.loads(receiver.received[-1]["body"])["id"] == failed[0]["id"]
    assert tenant_a.get("/v1/events/failed").json["items"] == []
    assert tenant_a.post("/v1/events/evt_nothing/replay").status == 404


def test_an_unreachable_receiver_is_reported_without_socket_details(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a webhook on a local port where nothing listens
    _configure(tenant_a, "http://127.0.0.1:9/hook")
    tenant_a.create_customer(name="Ida")
    # When its event has exhausted its attempts
    streams.drain()
    # Then the failure says what happened in general terms only
    (failed,) = tenant_a.get("/v1/events/failed").json["items"]
    assert failed["last_error"] == "receiver refused the connection"


def test_a_message_the_delivery_keeps_crashing_on_ends_its_event_as_failed(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver, environment: dict[str, str]
) -> None:
    from chalicelib.dal import keys

    # Given a pending event queued by the data stream consumer (run here on its own)
    _configure(tenant_a, receiver.url)
    tenant_a.create_customer(name="Jo")
    region = environment["AWS_DEFAULT_REGION"]
    LocalStreamRunner(
        boto3.client("dynamodb", region_name=region),
        boto3.client(
            "dynamodbstreams",
            region_name=region,
            endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com",
        ),
        environ=dict(environment),
    ).drain()
    # And a tenant configuration that no longer parses, so every delivery attempt crashes
    boto3.client("dynamodb", region_name=region).update_item(
        TableName=environment["CONTROL_TABLE"],
        Key={
            "pk": {"S": keys.tenant_pk(tenant_id(tenant_a.tenant_id or ""))},
            "sk": {"S": keys.TENANT_CONFIG_SK},
        },
        UpdateExpression="SET #document = :broken",
        ExpressionAttributeNames={"#document": "document"},
        ExpressionAttributeValues={":broken": {"S": "{not json"}},
    )
    # When the queue is worked through (every receive crashes; SQS's redrive policy moves
    # the message to the dead-letter queue, whose consumer runs next)
    streams.drain()
    # Then the event is listed as failed (read from the table: the broken configuration
    # would fail the API too), ready for a replay, and nothing was sent
    (event,) = list_failed(tenant_id(tenant_a.tenant_id or ""), PageRequest()).items
    assert (event.type, event.segment_id) == ("segment.entered", "lifecycle:prospect")
    assert event.last_error == "delivery gave up"
    assert receiver.received == []


def test_a_concurrent_attempt_does_not_undo_a_delivery(
    tenant_a: Api, streams: LocalStreamRunner, receiver: Receiver
) -> None:
    from dataclasses import replace

    from chalicelib.dal.events import get_event, save_event
    from chalicelib.domain.segments import EventStatus
    from chalicelib.services.segment_events import Delivery, deliver

    # Given a pending event (queued but not yet delivered: the receiver answers 503 once)
    _configure(tenant_a, receiver.url)
    receiver.status = 503
    tenant_a.create_customer(name="Kim")
    tenant = tenant_id(tenant_a.tenant_id or "")
    streams.drain()
    (event,) = list_failed(tenant, PageRequest()).items
    save_event(tenant, replace(event, status=EventStatus.PENDING, last_error=None))

    # And a duplicate message's attempt that delivers the event while this one is sending
    def failing_while_a_duplicate_delivers(url: str, body: bytes, headers: dict[str, str]) -> int:
        current = get_event(tenant, event.id)
        assert current is not None
        save_event(tenant, replace(current, status=EventStatus.DELIVERED, attempts=9))
        return 503

    # When this attempt fails
    done = deliver(tenant, event.id, False, Delivery(send=failing_while_a_duplicate_delivers))
    # Then its message is done with and the event stays delivered
    stored = get_event(tenant, event.id)
    assert done and stored is not None
    assert (stored.status, stored.attempts) == (EventStatus.DELIVERED, 9)
