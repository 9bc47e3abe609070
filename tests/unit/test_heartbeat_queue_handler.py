"""Audit heartbeat page messages: their body round trip and the queue's record handling
with a fake (a failing page reported alone, a malformed body reported without failing the
batch)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.queues_config import AUDIT_HEARTBEAT_QUEUE
from chalicelib.services.audit import HEARTBEAT_TENANTS_PER_PAGE
from chalicelib.streams.audit_heartbeats import (
    HeartbeatBatch,
    HeartbeatPage,
    process_batch,
)
from tests.support.queues import sqs_event, sqs_record

TENANT_A = tenant_id("ten_01M81Y3CBPRNGM9WHT0MQZ3JPG")
TENANT_B = tenant_id("ten_01M81Y3CBPRNGM9WHT0MQZ3JPH")
TENANT_C = tenant_id("ten_01M81Y3CBPRNGM9WHT0MQZ3JPJ")


def record_of(*tenants: TenantId) -> dict[str, object]:
    body = HeartbeatPage(tenant_ids=list(tenants)).model_dump_json()
    return sqs_record(body, 1, AUDIT_HEARTBEAT_QUEUE.queue_name)


class FakeHeartbeats:
    """Remembers the pages it was given, failing those holding a tenant named."""

    def __init__(self, failing: TenantId | None = None) -> None:
        self.failing = failing
        self.pages: list[list[TenantId]] = []

    def append(self, tenants: Sequence[TenantId]) -> None:
        self.pages.append(list(tenants))
        if self.failing in tenants:
            raise RuntimeError(f"audit heartbeats failed for 1 tenants: [{self.failing!r}]")


def test_a_page_message_carries_its_tenant_ids_and_at_most_a_page_of_them() -> None:
    # Given a page of two tenants written as a message body
    body = HeartbeatPage(tenant_ids=[TENANT_A, TENANT_B]).model_dump_json()

    # Then the consumer reads the same tenants back
    assert HeartbeatPage.model_validate_json(body).tenants() == [TENANT_A, TENANT_B]
    # and a message names at least one tenant and at most a page
    with pytest.raises(ValidationError):
        HeartbeatPage(tenant_ids=[])
    with pytest.raises(ValidationError):
        HeartbeatPage(tenant_ids=[TENANT_A] * (HEARTBEAT_TENANTS_PER_PAGE + 1))


def test_a_failing_page_is_reported_alone_and_the_others_are_appended() -> None:
    # Given a consumer failing for tenant B, and three pages
    heartbeats = FakeHeartbeats(failing=TENANT_B)
    records = [record_of(TENANT_A), record_of(TENANT_B, TENANT_C), record_of(TENANT_C)]

    # When the batch is processed
    answer = process_batch(sqs_event(*records), None, HeartbeatBatch(heartbeats.append))

    # Then only the page holding tenant B comes back for a retry; every page was tried
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}
    assert heartbeats.pages == [[TENANT_A], [TENANT_B, TENANT_C], [TENANT_C]]


def test_a_malformed_body_is_reported_without_failing_the_batch() -> None:
    # Given a body that is not a page, beside a good one
    heartbeats = FakeHeartbeats()
    bad = sqs_record('{"tenant_ids": "ten_X"}', 1, AUDIT_HEARTBEAT_QUEUE.queue_name)
    good = record_of(TENANT_A)

    # When the batch is processed
    answer = process_batch(sqs_event(bad, good), None, HeartbeatBatch(heartbeats.append))

    # Then the bad one alone is reported
    assert answer == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert heartbeats.pages == [[TENANT_A]]
