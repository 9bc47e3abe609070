"""Campaign page messages: their body round trip, the send queue's record handling with
fakes (partial failures, the last receive gives the page up, a malformed body reported
alone, a redelivered page sends nothing twice) and when a run is complete."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.campaigns import PagesSettled, Progress, RecipientPage, run_complete
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.queues_config import CAMPAIGN_SEND_QUEUE
from chalicelib.streams.campaign_sends import CampaignSendBatch, PageMessage, process_batch
from tests.support.queues import sqs_event, sqs_record

TENANT = tenant_id("ten_01M81Y3CBPRNGM9WHT0MQZ3JPG")
CAMPAIGN = "cmp_01M81Y3CBPRNGM9WHT0MQZ3JPH"
RUN_AT = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def page(number: int, *customers: str) -> RecipientPage:
    return RecipientPage(CAMPAIGN, RUN_AT, number, customers)


def record_of(recipients: RecipientPage, receive_count: int = 1) -> dict[str, object]:
    body = PageMessage.of(TENANT, recipients).model_dump_json()
    return sqs_record(body, receive_count, CAMPAIGN_SEND_QUEUE.queue_name)


class FakeSends:
    """Remembers who the run messaged (as the message items' condition does) and which
    pages were settled, crashing on the pages named."""

    def __init__(self, crashing_pages: set[int] | None = None) -> None:
        self.crashing = crashing_pages or set()
        self.messaged: list[str] = []
        self.settled: dict[int, str] = {}

    def send(self, tenant: TenantId, recipients: RecipientPage) -> None:
        assert tenant == TENANT
        if recipients.number in self.crashing:
            raise RuntimeError("the store is down")
        self.messaged.extend(c for c in recipients.customer_ids if c not in self.messaged)
        self.settled.setdefault(recipients.number, "done")

    def give_up(self, tenant: TenantId, recipients: RecipientPage, error: Exception) -> None:
        self.settled.setdefault(recipients.number, f"failed: {type(error).__name__}")


def test_a_page_message_carries_the_member_ids_and_the_run() -> None:
    # Given a page of two members
    recipients = page(3, "cus_A", "cus_B")

    # When it is written as a message body and read back
    body = PageMessage.of(TENANT, recipients).model_dump_json()
    read = PageMessage.model_validate_json(body)

    # Then the worker gets the same page of the same run, and the tenant
    assert read.recipient_page() == recipients
    assert read.tenant_id == TENANT


def test_a_crashing_page_is_reported_alone_and_not_given_up_while_receives_remain() -> None:
    # Given a worker that crashes on page 1
    sends = FakeSends({1})
    records = [
        record_of(page(0, "cus_A")),
        record_of(page(1, "cus_B")),
        record_of(page(2, "cus_C")),
    ]

    # When the batch is processed
    answer = process_batch(sqs_event(*records), None, CampaignSendBatch(sends.send, sends.give_up))

    # Then only page 1 comes back for a retry; the others were sent and settled
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}
    assert sends.messaged == ["cus_A", "cus_C"]
    assert sends.settled == {0: "done", 2: "done"}


def test_the_last_receive_of_a_crashing_page_settles_it_as_failed() -> None:
    # Given page 1 on its last receive, crashing again
    sends = FakeSends({1})
    record = record_of(page(1, "cus_B"), CAMPAIGN_SEND_QUEUE.max_receive_count)

    # When it is processed
    answer = process_batch(sqs_event(record), None, CampaignSendBatch(sends.send, sends.give_up))

    # Then it is settled as failed (so the run can end) and still reported (to the DLQ)
    assert answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert sends.settled == {1: "failed: RuntimeError"}


def test_a_malformed_body_is_reported_without_failing_the_batch() -> None:
    # Given a body that is not a page message, beside a good one
    sends = FakeSends()
    bad = sqs_record('{"tenant_id": "ten_X", "page": -1}', 1, CAMPAIGN_SEND_QUEUE.queue_name)
    good = record_of(page(0, "cus_A"))

    # When the batch is processed
    answer = process_batch(sqs_event(bad, good), None, CampaignSendBatch(sends.send, sends.give_up))

    # Then the bad one alone is reported; nothing was given up
    assert answer == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert sends.settled == {0: "done"}


def test_a_redelivered_page_sends_nothing_twice() -> None:
    # Given a page already handled once
    sends = FakeSends()
    batch = CampaignSendBatch(sends.send, sends.give_up)
    process_batch(sqs_event(record_of(page(0, "cus_A", "cus_B"))), None, batch)

    # When the same page is delivered again
    answer = process_batch(sqs_event(record_of(page(0, "cus_A", "cus_B"), 2)), None, batch)

    # Then it succeeds and its members were messaged once
    assert answer == {"batchItemFailures": []}
    assert sends.messaged == ["cus_A", "cus_B"]
    assert sends.settled == {0: "done"}


def test_a_run_is_complete_once_every_page_is_queued_and_settled() -> None:
    # Given a run with 3 pages queued
    queued = Progress(run_at=RUN_AT, pages=3, queued_all=True)
    walking = Progress(run_at=RUN_AT, pages=3, queued_all=False)

    # Then it is complete when its pages are settled, done or failed, and not before
    assert not run_complete(queued, PagesSettled(done=2))
    assert run_complete(queued, PagesSettled(done=2, failed=1))
    assert not run_complete(walking, PagesSettled(done=3))
    assert run_complete(Progress(run_at=RUN_AT, queued_all=True), PagesSettled())
