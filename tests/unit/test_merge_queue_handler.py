"""The merge queue's record handling with a fake continuation: each message continues its
merge, a crashing one alone comes back (partial batch failure), a malformed one too."""

from __future__ import annotations

import json
import uuid
from typing import Any

from chalicelib.domain.tenancy import TenantId
from chalicelib.streams.merge_queue import MergeQueueBatch, process_batch

TENANT = "ten_01M81Y3CBPRNGM9WHT0MQZ3JPG"
SURVIVOR = "cus_01M81Y3CBPRNGM9WHT0MQZ3JPH"


def merge_message(merge_id: str) -> dict[str, Any]:
    body = {"tenant_id": TENANT, "survivor_id": SURVIVOR, "merge_id": merge_id}
    return sqs_record(json.dumps(body))


def sqs_record(body: str) -> dict[str, Any]:
    message_id = str(uuid.uuid4())
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:merge-continuations",
        "awsRegion": "us-east-1",
    }


class FakeMerges:
    def __init__(self, crashing: set[str]) -> None:
        self.crashing = crashing
        self.continued: list[tuple[TenantId, str, str]] = []

    def continue_merge(self, tenant: TenantId, survivor_id: str, merge_id: str) -> None:
        if merge_id in self.crashing:
            raise RuntimeError("the store is down")
        self.continued.append((tenant, survivor_id, merge_id))


def test_each_message_continues_its_merge_and_a_crashing_one_alone_comes_back() -> None:
    # Given a continuation that crashes, one that works and a malformed message
    merges = FakeMerges({"mrg_b"})
    records = [merge_message("mrg_a"), merge_message("mrg_b"), sqs_record("{}")]

    # When the batch is processed
    answer = process_batch({"Records": records}, None, MergeQueueBatch(merges.continue_merge))

    # Then the working one continued its merge, and the other two come back
    assert merges.continued == [(TENANT, SURVIVOR, "mrg_a")]
    assert answer == {
        "batchItemFailures": [
            {"itemIdentifier": records[1]["messageId"]},
            {"itemIdentifier": records[2]["messageId"]},
        ]
    }
