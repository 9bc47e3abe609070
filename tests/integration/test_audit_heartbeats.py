"""Audit heartbeats fanned out over the audit-heartbeats queue, on moto: the digest
schedule only pages through the tenants and queues one message per page (appending
nothing); the queue's consumer appends exactly one heartbeat per due tenant, nothing for a
redelivered page or a copy of it that loses the race, and reports a tenant that fails as a
batch item failure after doing the rest of its page."""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest

from chalicelib.dal import control, keys
from chalicelib.dal.connection import dynamodb_client
from chalicelib.dal.models import AuditDigestItem
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.observability import log_output_to, logger
from chalicelib.queues_config import AUDIT_HEARTBEAT_QUEUE
from devtools.local_schedule import scheduled_event
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api
from tests.support.grants import calls_granted_to
from tests.support.queues import sqs_event, sqs_record

PAGE = 2


@pytest.fixture(autouse=True)
def pages_of_two(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pages of two tenants, so a few tenants make several pages."""
    from chalicelib.services import audit

    monkeypatch.setattr(audit, "HEARTBEAT_TENANTS_PER_PAGE", PAGE)
    yield


@pytest.fixture
def tenants(platform: Api) -> list[TenantId]:
    return [tenant_id(platform.create_tenant(f"Tenant {n}").tenant_id) for n in range(5)]


def _run_schedule() -> None:
    from app import audit_heartbeats

    with calls_granted_to("AuditHeartbeats"):
        audit_heartbeats(scheduled_event("audit_heartbeats"), None)


def _consume(*records: dict[str, Any]) -> Any:
    from app import append_audit_heartbeats

    with calls_granted_to("AppendAuditHeartbeats"):
        return append_audit_heartbeats(sqs_event(*records), None)


def _page_record(tenants: list[TenantId], receive_count: int = 1) -> dict[str, Any]:
    body = json.dumps({"tenant_ids": list(tenants)})
    return sqs_record(body, receive_count, AUDIT_HEARTBEAT_QUEUE.queue_name)


def _queued_pages(environment: dict[str, str]) -> list[list[str]]:
    """The bodies waiting in the heartbeat queue, left there (visible again at once)."""
    sqs = boto3.client("sqs", region_name=environment["AWS_DEFAULT_REGION"])
    answer = sqs.receive_message(
        QueueUrl=environment[AUDIT_HEARTBEAT_QUEUE.queue_url_variable],
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
    )
    return [json.loads(m["Body"])["tenant_ids"] for m in answer.get("Messages", [])]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the service's logger writes during the test."""
    captured = io.StringIO()
    previous = getattr(logger.registered_handler, "stream", None)
    log_output_to(captured)
    yield captured
    log_output_to(previous)


def _digests(tenant: TenantId) -> list[AuditDigestItem]:
    items = AuditDigestItem.query(keys.audit_digests_pk(tenant))
    return sorted((d for d in items if d.sk.startswith("D#")), key=lambda d: int(d.sequence))


def _stored(tenant: TenantId) -> list[tuple[str, str]]:
    return [(d.sk, d.signature) for d in _digests(tenant)]


def test_the_schedule_queues_one_message_per_page_of_tenants_and_appends_nothing(
    tenants: list[TenantId],
    platform: Api,
    streams: LocalStreamRunner,
    environment: dict[str, str],
) -> None:
    # Given five tenants and a sixth that was deleted
    gone = tenant_id(platform.create_tenant("Gone").tenant_id)
    assert platform.delete(f"/v1/admin/tenants/{gone}").status == 202

    # When the digest schedule runs
    _run_schedule()

    # Then it queued one message per Query page of two tenants (the deleted one left out)
    pages = _queued_pages(environment)
    assert len(pages) == math.ceil(6 / PAGE)
    assert all(1 <= len(page) <= PAGE for page in pages)
    assert sorted(t for page in pages for t in page) == sorted(tenants)
    # and appended no digest itself
    assert all(_digests(tenant) == [] for tenant in [*tenants, gone])


def test_the_schedule_sends_its_pages_in_batches_and_stops_at_its_deadline(
    tenants: list[TenantId], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import audit

    # Given five tenants (three pages of two) and sends of two pages at most
    monkeypatch.setattr(audit, "HEARTBEAT_PAGES_PER_SEND", 2)
    sent: list[list[list[TenantId]]] = []

    def send(pages: Sequence[Sequence[TenantId]]) -> None:
        sent.append([list(page) for page in pages])

    # When the schedule runs with time to spare, and again with its deadline passed
    with calls_granted_to("AuditHeartbeats"):
        queued = audit.queue_heartbeat_pages(time.monotonic() + 60, send)
        walked, sent[:] = list(sent), []
        late = audit.queue_heartbeat_pages(time.monotonic() - 1, send)

    # Then the pages went out two a send, oldest tenants first
    assert queued == 3 and [len(batch) for batch in walked] == [2, 1]
    assert [t for batch in walked for page in batch for t in page] == tenants
    # and past its deadline it queued the page it had read, and read no further
    assert late == 1 and sent == [[tenants[:PAGE]]]


def test_the_consumer_appends_one_heartbeat_per_due_tenant(
    tenants: list[TenantId], streams: LocalStreamRunner
) -> None:
    from chalicelib.services.audit import chain

    # Given a tenant whose chain was just extended (not due), the others never chained
    recent, *due = tenants
    chain(recent, [])

    # When the schedule runs and the queue's consumer takes its pages (under its grants)
    _run_schedule()
    streams.drain()

    # Then every due tenant has exactly one heartbeat: no entries, signed with the chain
    # key, the first of its chain
    for tenant in due:
        (heartbeat,) = _digests(tenant)
        assert int(heartbeat.sequence) == 1
        assert json.loads(heartbeat.entries or "[]") == []
        assert heartbeat.scheme == "ecdsa-p256-sha256"
    # and the recent chain got nothing more
    assert [int(d.sequence) for d in _digests(recent)] == [1]


def test_a_redelivered_page_appends_nothing_more(
    tenants: list[TenantId], streams: LocalStreamRunner
) -> None:
    # Given a page whose heartbeats were appended
    page = tenants[:PAGE]
    first = _consume(_page_record(page))
    appended = {tenant: _stored(tenant) for tenant in page}

    # When the same page is delivered again
    again = _consume(_page_record(page, receive_count=2))

    # Then both deliveries succeed and the second appended nothing
    assert first == again == {"batchItemFailures": []}
    assert all(len(digests) == 1 for digests in appended.values())
    assert {tenant: _stored(tenant) for tenant in page} == appended


def test_a_copy_of_the_page_that_loses_the_race_to_the_head_appends_nothing(
    tenants: list[TenantId], streams: LocalStreamRunner
) -> None:
    from chalicelib.services.audit import append_heartbeats

    # Given two copies of a page at once: the other copy commits its heartbeat between
    # this copy's read of the head and its conditional append
    tenant = tenants[0]
    events = dynamodb_client().meta.events
    hook = "other-copy-commits-first"

    def other_copy_first(**_: Any) -> None:
        events.unregister("before-call.dynamodb.TransactWriteItems", unique_id=hook)
        append_heartbeats([tenant])

    events.register("before-call.dynamodb.TransactWriteItems", other_copy_first, unique_id=hook)

    # When this copy is consumed
    answer = _consume(_page_record([tenant]))

    # Then the chain did not fork and holds one heartbeat: this copy, finding the head
    # moved, read it again, found it recent and appended nothing
    assert answer == {"batchItemFailures": []}
    assert [int(d.sequence) for d in _digests(tenant)] == [1]


def test_a_failing_tenant_fails_its_message_after_the_rest_of_the_page_is_done(
    tenants: list[TenantId],
    streams: LocalStreamRunner,
    environment: dict[str, str],
    log_lines: io.StringIO,
) -> None:
    # Given a page of three tenants, the first with an unreadable chain head (a damaged item)
    broken, *others = tenants[:3]
    boto3.client("dynamodb", region_name=environment["AWS_DEFAULT_REGION"]).put_item(
        TableName=environment["AUDIT_TABLE"],
        Item={
            "pk": {"S": keys.audit_digests_pk(broken)},
            "sk": {"S": keys.AUDIT_HEAD_SK},
            "sequence": {"N": "1"},
            "created_at": {"S": "not a time"},
            "signature": {"S": "x"},
        },
    )
    record = _page_record([broken, *others])

    # When the page is consumed
    answer = _consume(record)

    # Then the message is reported failed (received again, then dead-lettered)
    assert answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    # and the other tenants of the page got their heartbeat all the same
    assert all(len(_digests(tenant)) == 1 for tenant in others)
    # and a log line names the tenant that failed
    failures = [
        json.loads(line)
        for line in log_lines.getvalue().splitlines()
        if '"audit heartbeat failed"' in line
    ]
    assert [line["tenant_id"] for line in failures] == [broken]

    # When the message is received again once the head is repaired
    AuditDigestItem(keys.audit_digests_pk(broken), keys.AUDIT_HEAD_SK).delete()
    retried = _consume(_page_record([broken, *others], receive_count=2))

    # Then the failed tenant gets its heartbeat, the others nothing more
    assert retried == {"batchItemFailures": []}
    assert all(len(_digests(tenant)) == 1 for tenant in [broken, *others])


def test_a_deleted_tenant_queued_before_its_deletion_gets_no_heartbeat(
    tenants: list[TenantId], platform: Api, streams: LocalStreamRunner
) -> None:
    # Given a page queued before one of its tenants was deleted
    gone, kept = tenants[:2]
    assert platform.delete(f"/v1/admin/tenants/{gone}").status == 202

    # When the page is consumed
    answer = _consume(_page_record([gone, kept]))

    # Then only the tenant still there got a heartbeat
    assert answer == {"batchItemFailures": []}
    assert _digests(gone) == [] and len(_digests(kept)) == 1
    assert control.get_tenant(kept) is not None
