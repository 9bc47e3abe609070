"""The local SQS endpoint (devtools/sqs_endpoint.py) makes the API process's SQS calls on
the launcher's client: the call's parameters as sent, its answer or its error as SQS's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from devtools.sqs_endpoint import answer

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/merge-continuations"


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sqs", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_a_send_is_made_on_the_client_and_answered_as_sqs_does(
    sqs: tuple[Any, Stubber],
) -> None:
    # Given the launcher's client, which takes this message
    client, stubber = sqs
    sent = {"QueueUrl": QUEUE_URL, "MessageBody": '{"merge_id": "m"}', "MessageGroupId": "t"}
    stubber.add_response("send_message", {"MessageId": "id-1", "MD5OfMessageBody": "0" * 32}, sent)

    # When the API process sends it through the endpoint
    status, body = answer(client, "AmazonSQS.SendMessage", json.dumps(sent).encode())

    # Then the answer is the client's, without botocore's response metadata
    assert (status, body) == (200, {"MessageId": "id-1", "MD5OfMessageBody": "0" * 32})


def test_an_sqs_error_is_answered_as_sqs_does(sqs: tuple[Any, Stubber]) -> None:
    # Given a client that answers the queue does not exist
    client, stubber = sqs
    stubber.add_client_error("send_message", "AWS.SimpleQueueService.NonExistentQueue", "gone", 400)

    # When a message is sent through the endpoint
    body = json.dumps({"QueueUrl": QUEUE_URL + "-gone", "MessageBody": "{}"}).encode()
    status, error = answer(client, "AmazonSQS.SendMessage", body)

    # Then it is a 400 naming the error, as botocore's JSON protocol reads one
    assert status == 400
    assert error["__type"].endswith("#AWS.SimpleQueueService.NonExistentQueue")
    assert error["message"] == "gone"


@pytest.mark.parametrize(
    ("target", "body"),
    [
        ("AmazonSQS.DropEverything", b"{}"),
        ("DynamoDB_20120810.GetItem", b"{}"),
        ("AmazonSQS.SendMessage", b"not json"),
        ("AmazonSQS.SendMessage", b'["not", "parameters"]'),
    ],
)
def test_an_unknown_operation_or_bad_parameters_are_refused(
    sqs: tuple[Any, Stubber], target: str, body: bytes
) -> None:
    client, _ = sqs
    status, error = answer(client, target, body)
    assert status == 400 and error["message"]
