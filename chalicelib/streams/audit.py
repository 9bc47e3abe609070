"""The audit trail's two stream functions (docs/streams.md):

- `record_data_changes`, the data table's second reader: one entry per change of audited
  data, attributed from the `written_*` attributes the item carries (for a delete, the
  ones written just before it); removals by TTL are the system's.
- `chain_audit_trail`, the audit table's reader: each tenant's new entries of a batch
  become one digest of its chain; entries naming several customers get their mentions;
  alerts are raised.

Both are idempotent: an entry's id follows from its stream record, a digest that lists
an entry twice still verifies, mentions and alerts are keyed by what caused them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.dal.attribution import system_writer, writing_as
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.tenancy import TenantId
from chalicelib.services.audit import ItemChange

_TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def item_change(record: DynamoDBRecord) -> ItemChange:
    raw = record.raw_event.get("dynamodb") or {}
    identity = record.raw_event.get("userIdentity") or {}
    created = raw.get("ApproximateCreationDateTime")
    at = datetime.fromtimestamp(float(created), tz=UTC) if created else datetime.now(UTC)
    return ItemChange(
        event=str(record.raw_event.get("eventName")),
        sequence=str(raw.get("SequenceNumber") or record.event_id),
        at=at,
        old=raw.get("OldImage"),
        new=raw.get("NewImage"),
        by_ttl=identity.get("principalId") == _TTL_PRINCIPAL,
    )


def record_data_changes(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler (registered in app.py)."""
    from chalicelib.dal.audit import audited_entities
    from chalicelib.services.audit import record_changes, retention_by_tenant

    audited = audited_entities()
    retention_days = retention_by_tenant()

    def handle(record: DynamoDBRecord) -> None:
        record_changes([item_change(record)], audited, retention_days)

    with writing_as(system_writer("record_data_changes", event)):
        return process_partial_response(
            event=event.to_dict(),
            record_handler=handle,
            processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
            context=getattr(event, "context", None),
        )


def _new_entry(raw_record: dict[str, Any]) -> AuditEntry | None:
    """The entry a record adds to the trail; None for anything else (mentions, digests,
    windows, TTL removals). A changed entry is tampering: it is logged here and found by
    verification."""
    from chalicelib.dal.audit import entry_from_raw, is_trail_entry
    from chalicelib.observability import logger

    stream = raw_record.get("dynamodb") or {}
    image = stream.get("NewImage") or {}
    if not is_trail_entry(stream.get("Keys") or {}):
        return None
    if raw_record.get("eventName") == "MODIFY":
        logger.warning("audit entry changed in place", sort_key=stream["Keys"]["sk"]["S"])
        return None
    if raw_record.get("eventName") != "INSERT":
        return None
    return entry_from_raw(image)


def process_trail_batch(
    event: dict[str, Any],
    context: Any,
    thresholds: Callable[[TenantId], Any] | None = None,
) -> PartialItemFailureResponse:
    from chalicelib.services.audit import TrailBatch, thresholds_of

    entries: dict[str, AuditEntry] = {}
    by_tenant: dict[str, list[AuditEntry]] = defaultdict(list)
    for raw_record in event.get("Records", []):
        entry = _new_entry(raw_record)
        if entry is not None:
            entries[raw_record["dynamodb"]["SequenceNumber"]] = entry
            by_tenant[entry.tenant_id].append(entry)
    batch = TrailBatch(dict(by_tenant), thresholds or thresholds_of)

    def handle(record: DynamoDBRecord) -> None:
        entry = entries.get(record.raw_event["dynamodb"]["SequenceNumber"])
        if entry is not None:
            batch.handle(entry)

    return process_partial_response(
        event=event,
        record_handler=handle,
        processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
        context=context,
    )


def chain_audit_trail(event: Any) -> PartialItemFailureResponse:
    """The Chalice handler (registered in app.py)."""
    with writing_as(system_writer("chain_audit_trail", event)):
        return process_trail_batch(event.to_dict(), getattr(event, "context", None))
