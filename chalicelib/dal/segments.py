"""Segments: a customer's facts (read from its partition), its metrics and memberships,
the sharded member listings and counts, the custom definitions and the due-day index.
See docs/data-model.md ("Streams and segments") for the keys and access patterns."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pynamodb.exceptions import PutError

from chalicelib.dal import keys
from chalicelib.dal.analytics import (
    CONTRIBUTION_ENTITY,
    StoredContribution,
    contribution_from_plain,
)
from chalicelib.dal.connection import bound_settings, transaction_connection
from chalicelib.dal.cursors import decode_cursor, encode_cursor
from chalicelib.dal.models import (
    SegmentCountItem,
    SegmentDefinitionItem,
    SegmentMemberItem,
    SegmentStateItem,
)
from chalicelib.dal.transactions import ConditionsFailed, LabelledTransaction, commit_with_retry
from chalicelib.domain.analytics import Contribution
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.metrics import (
    CustomerFacts,
    CustomerMetrics,
    InteractionFacts,
    PointsFacts,
    ProfileFacts,
    TicketFacts,
)
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.segments import (
    Backfill,
    BackfillStatus,
    RfmScore,
    SegmentDefinition,
    SegmentState,
)
from chalicelib.domain.tenancy import TenantId

_deserializer = TypeDeserializer()


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _optional_moment(value: Any) -> datetime | None:
    return _moment(str(value)) if value else None


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


# A customer's facts, from one Query of its partition.


def _profile(item: dict[str, Any]) -> ProfileFacts:
    fields = {
        name: item.get(name)
        for name in ("name", "email", "phone", "external_id", "gender", "birthday", "address")
    }
    birthday = item.get("birthday")
    return ProfileFacts(
        customer_id=str(item["customer_id"]),
        created_at=_moment(str(item["created_at"])),
        fields=fields,
        tags=frozenset(item.get("tags") or ()),
        attributes=dict(item.get("attributes") or {}),
        birthday=date.fromisoformat(birthday) if birthday else None,
    )


def _interaction(item: dict[str, Any]) -> InteractionFacts:
    details = json.loads(item["details"])
    if not isinstance(details, dict):
        raise ValueError("interaction details must be an object")
    amount = details.get("amount")
    return InteractionFacts(
        interaction_id=str(item["interaction_id"]),
        type=str(item["type"]),
        occurred_at=_moment(str(item["occurred_at"])),
        amount=Decimal(str(amount)) if amount is not None else None,
        rating=_int(details.get("rating")),
        nps=_int(details.get("nps")),
        channel=str(item["channel"]) if item.get("channel") else None,
    )


def _ticket(item: dict[str, Any]) -> TicketFacts:
    rating = item.get("rating") or {}
    rated_at = rating.get("rated_at")
    return TicketFacts(
        ticket_id=str(item["ticket_id"]),
        category=str(item["category"]),
        status=str(item["status"]),
        created_at=_moment(str(item["created_at"])),
        resolution_target_us=int(item["resolution_target_us"]),
        rating_score=_int(rating.get("score")),
        rated_at=_moment(str(rated_at)) if rated_at else None,
        first_response_target_us=int(item.get("first_response_target_us") or 0),
        first_response_at=_optional_moment(item.get("first_response_at")),
        first_response_paused_us=int(item.get("first_response_paused_us") or 0),
        resolved_at=_optional_moment(item.get("resolved_at")),
        resolution_paused_us=int(item.get("resolution_paused_us") or 0),
    )


def _points(item: dict[str, Any]) -> PointsFacts:
    lots = {date.fromisoformat(d): int(p) for d, p in json.loads(item["lots"]).items()}
    return PointsFacts(
        lots=lots,
        tier=str(item["tier"]),
        lifetime_earned=int(item.get("lifetime_earned") or 0),
        redeemed=int(item.get("redeemed") or 0),
        expired=int(item.get("expired") or 0),
        updated_at=_optional_moment(item.get("updated_at")),
    )


# The sort-key ranges of a customer's partition that metrics read: interactions (`INT#…`,
# before `LEDGER#`), then `POINTS`, `PROFILE`, `SEGMENTS` and the ticket copies (`TICKET#…`,
# before the ticket events `TKTEV#`). Ledger entries, lot markers and ticket events, which
# grow with the history but add nothing to the metrics, are never read.
_FACT_RANGES = (
    ("sk < :upper", {":upper": {"S": "LEDGER#"}}),
    ("sk BETWEEN :lower AND :upper", {":lower": {"S": "POINTS"}, ":upper": {"S": "TICKET$"}}),
)


def _partition_items(tenant: TenantId, customer_id: str) -> Iterator[dict[str, Any]]:
    settings = bound_settings()
    connection = transaction_connection()
    pk = {":pk": {"S": keys.customer_pk(tenant, customer_id)}}
    for condition, values in _FACT_RANGES:
        request: dict[str, Any] = {
            "TableName": settings.data_table,
            "KeyConditionExpression": f"pk = :pk AND {condition}",
            "ExpressionAttributeValues": {**pk, **values},
            "ConsistentRead": True,
        }
        while True:
            answer = connection.client.query(**request)
            for item in answer.get("Items", []):
                yield _plain(item)
            start = answer.get("LastEvaluatedKey")
            if not start:
                break
            request["ExclusiveStartKey"] = start


def load_customer(
    tenant: TenantId, customer_id: str
) -> tuple[CustomerFacts | None, SegmentState | None]:
    """The customer's facts (None when the profile is gone) and its stored segment state,
    from two consistent Queries of its partition (see _FACT_RANGES)."""
    facts, state, _ = load_customer_for_refresh(tenant, customer_id)
    return facts, state


def load_customer_for_refresh(
    tenant: TenantId, customer_id: str
) -> tuple[CustomerFacts | None, SegmentState | None, StoredContribution]:
    """As `load_customer`, plus the customer's stored analytics contribution (`ANALYTICS`
    sorts before `INT#`, so the first of the two Queries reads it too)."""
    contribution = StoredContribution(Contribution(), 0)
    profile = None
    points = None
    state = None
    interactions: list[InteractionFacts] = []
    tickets: list[TicketFacts] = []
    for item in _partition_items(tenant, customer_id):
        entity = item.get("entity")
        if entity == "customer":
            profile = _profile(item)
        elif entity == "points":
            points = _points(item)
        elif entity == "interaction":
            interactions.append(_interaction(item))
        elif entity == "customer_ticket":
            tickets.append(_ticket(item))
        elif entity == "customer_segments":
            state = segment_state_from_plain(item)
        elif entity == CONTRIBUTION_ENTITY:
            contribution = contribution_from_plain(item)
    facts = CustomerFacts(profile, points, tuple(interactions), tuple(tickets)) if profile else None
    return facts, state, contribution


def load_facts(tenant: TenantId, customer_id: str) -> CustomerFacts | None:
    """The customer's profile, points account, interactions and ticket copies; None when
    the profile is gone."""
    return load_customer(tenant, customer_id)[0]


# Metrics and memberships.


def _to_state(item: SegmentStateItem) -> SegmentState:
    return segment_state_from_plain(
        {
            "metrics": item.metrics,
            "segments": item.segments,
            "rfm": item.rfm,
            "next_change": item.next_change,
            "version": item.version,
        }
    )


def segment_state_from_plain(item: dict[str, Any]) -> SegmentState:
    rfm = json.loads(item["rfm"]) if item.get("rfm") else None
    next_change = item.get("next_change")
    return SegmentState(
        metrics=CustomerMetrics.from_json(json.loads(item["metrics"])),
        segments=frozenset(json.loads(item["segments"])),
        rfm=RfmScore(**rfm) if rfm else None,
        next_change=date.fromisoformat(next_change) if next_change else None,
        version=int(item.get("version") or 0),
    )


def get_state(tenant: TenantId, customer_id: str, consistent: bool = True) -> SegmentState | None:
    bound_settings()
    try:
        item = SegmentStateItem.get(
            keys.customer_pk(tenant, customer_id),
            keys.SEGMENT_STATE_SK,
            consistent_read=consistent,
        )
    except SegmentStateItem.DoesNotExist:
        return None
    return _to_state(item)


def _state_item(
    tenant: TenantId, customer_id: str, state: SegmentState, today: date, now: datetime
) -> SegmentStateItem:
    due = state.next_change.isoformat() if state.next_change else None
    item = SegmentStateItem(
        pk=keys.customer_pk(tenant, customer_id),
        sk=keys.SEGMENT_STATE_SK,
        gsi5pk=(
            keys.segments_due_pk(tenant, due, keys.shard_of(customer_id, keys.SEGMENT_DUE_SHARDS))
            if due
            else None
        ),
        gsi5sk=customer_id if due else None,
        tenant_id=tenant,
        customer_id=customer_id,
        metrics=json.dumps(state.metrics.as_json(), sort_keys=True, separators=(",", ":")),
        segments=json.dumps(sorted(state.segments), separators=(",", ":")),
        rfm=json.dumps(vars(state.rfm), sort_keys=True) if state.rfm else None,
        next_change=due,
        computed_on=today.isoformat(),
        updated_at=now,
    )
    if state.version:
        item.version = state.version
    return item


def _member(
    tenant: TenantId, segment_id: str, customer_id: str, now: datetime
) -> SegmentMemberItem:
    shard = keys.shard_of(customer_id, keys.SEGMENT_SHARDS)
    return SegmentMemberItem(
        pk=keys.segment_members_pk(tenant, segment_id, shard),
        sk=customer_id,
        tenant_id=tenant,
        segment_id=segment_id,
        customer_id=customer_id,
        joined_at=now,
    )


def _count(tenant: TenantId, segment_id: str, customer_id: str) -> SegmentCountItem:
    shard = keys.shard_of(customer_id, keys.SEGMENT_SHARDS)
    return SegmentCountItem(pk=keys.segment_counts_pk(tenant, shard), sk=segment_id)


def save_state(
    tenant: TenantId,
    customer_id: str,
    before: SegmentState | None,
    after: SegmentState | None,
    today: date,
    now: datetime,
    extra: Callable[[LabelledTransaction], None] | None = None,
) -> None:
    """Replace `before` with `after` (None: the customer is gone) in one transaction: the
    state item under its version, each entry as a member put (`attribute_not_exists`) and
    +1 on the member count's shard, each exit as a member delete (`attribute_exists`) and
    -1. The conditions make a count move only with a real entry or exit, so a repeated or
    concurrent evaluation cannot double-count; a lost race raises ConcurrentModification.
    `extra` carries more writes for the same transaction (the segment events)."""
    bound_settings()
    old = before.segments if before else frozenset()
    new = after.segments if after else frozenset()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        if extra is not None:
            extra(transaction)
        if after is not None:
            version = before.version if before else 0
            transaction.put(
                "state",
                _state_item(tenant, customer_id, replace(after, version=version), today, now),
                condition=None if before else SegmentStateItem.pk.does_not_exist(),
            )
        elif before is not None:
            gone = _state_item(tenant, customer_id, before, today, now)
            transaction.delete("state", gone, condition=SegmentStateItem.version == before.version)
        for segment_id in sorted(new - old):
            transaction.put(
                f"enter:{segment_id}",
                _member(tenant, segment_id, customer_id, now),
                condition=SegmentMemberItem.pk.does_not_exist(),
            )
            count = _count(tenant, segment_id, customer_id)
            transaction.update(f"count+:{segment_id}", count, [SegmentCountItem.value.add(1)])
        for segment_id in sorted(old - new):
            transaction.delete(
                f"exit:{segment_id}",
                _member(tenant, segment_id, customer_id, now),
                condition=SegmentMemberItem.pk.exists(),
            )
            count = _count(tenant, segment_id, customer_id)
            transaction.update(f"count-:{segment_id}", count, [SegmentCountItem.value.add(-1)])
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        raise ConcurrentModification("the customer's segments changed; retry") from error


def customers_due(tenant: TenantId, day: date) -> Iterator[str]:
    """The customers whose memberships may change on `day`: one Query per due shard."""
    bound_settings()
    for shard in range(keys.SEGMENT_DUE_SHARDS):
        for item in SegmentStateItem.by_due_day.query(
            keys.segments_due_pk(tenant, day.isoformat(), shard)
        ):
            yield item.customer_id


# Member listings and counts.


def member_counts(tenant: TenantId) -> dict[str, int]:
    """Every segment's member count: one Query per count shard (16), whatever the sizes."""
    bound_settings()
    totals: dict[str, int] = {}
    for shard in range(keys.SEGMENT_SHARDS):
        for item in SegmentCountItem.query(keys.segment_counts_pk(tenant, shard)):
            totals[item.sk] = totals.get(item.sk, 0) + int(item.value)
    return totals


def list_members(tenant: TenantId, segment_id: str, page: PageRequest) -> Page[str]:
    """Member customer ids, shard by shard, in customer id order within a shard. A page
    reads one Query per shard it touches (all 16 only when the segment is sparse); the
    cursor carries the shard and the last customer id returned."""
    bound_settings()
    query = f"segments:members:{segment_id}"
    shard, after = 0, None
    if page.cursor:
        position = decode_cursor(tenant, query, page.cursor)
        shard, after = int(position["shard"]), str(position["after"])
    found: list[tuple[int, str]] = []
    while shard < keys.SEGMENT_SHARDS and len(found) <= page.limit:
        wanted = page.limit - len(found) + 1
        condition = SegmentMemberItem.sk > after if after is not None else None
        for item in SegmentMemberItem.query(
            keys.segment_members_pk(tenant, segment_id, shard),
            condition,
            limit=wanted,
            page_size=wanted,
        ):
            found.append((shard, item.sk))
        shard, after = shard + 1, None
    if len(found) <= page.limit:
        return Page([customer for _, customer in found], None)
    found = found[: page.limit]
    last_shard, last = found[-1]
    cursor = encode_cursor(tenant, query, {"shard": last_shard, "after": last})
    return Page([customer for _, customer in found], cursor)


# Custom definitions.


def _backfill_json(backfill: Backfill) -> str:
    return json.dumps(
        {
            "status": backfill.status.value,
            "cursor": backfill.cursor,
            "processed": backfill.processed,
            "started_at": backfill.started_at.isoformat() if backfill.started_at else None,
            "finished_at": backfill.finished_at.isoformat() if backfill.finished_at else None,
        },
        separators=(",", ":"),
    )


def _to_backfill(text: str) -> tuple[Backfill, bool]:
    raw = json.loads(text)
    started, finished = raw.get("started_at"), raw.get("finished_at")
    backfill = Backfill(
        status=BackfillStatus(raw["status"]),
        cursor=raw.get("cursor"),
        processed=int(raw.get("processed", 0)),
        started_at=datetime.fromisoformat(started) if started else None,
        finished_at=datetime.fromisoformat(finished) if finished else None,
    )
    return backfill, bool(raw.get("deleting"))


def _rule_document(stored: str) -> dict[str, Any]:
    """The stored rule; `{}` (which does not parse as a rule) when the text is not a JSON
    object, so the stream consumer sets that one rule aside instead of failing the tenant."""
    try:
        document = json.loads(stored)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _to_definition(item: SegmentDefinitionItem) -> SegmentDefinition:
    backfill, deleting = _to_backfill(item.backfill)
    return SegmentDefinition(
        id=item.segment_id,
        name=item.name,
        description=item.description,
        rule_document=_rule_document(item.rule),
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
        backfill=backfill,
        deleting=deleting,
    )


def _definition_item(tenant: TenantId, definition: SegmentDefinition) -> SegmentDefinitionItem:
    backfill = json.loads(_backfill_json(definition.backfill))
    backfill["deleting"] = definition.deleting
    item = SegmentDefinitionItem(
        pk=keys.segment_definitions_pk(tenant),
        sk=definition.id,
        tenant_id=tenant,
        segment_id=definition.id,
        name=definition.name,
        description=definition.description,
        rule=json.dumps(definition.rule_document, sort_keys=True, separators=(",", ":")),
        created_at=definition.created_at,
        updated_at=definition.updated_at,
        backfill=json.dumps(backfill, separators=(",", ":")),
    )
    if definition.version:
        item.version = definition.version
    return item


def list_definitions(tenant: TenantId) -> list[SegmentDefinition]:
    """All of a tenant's custom segments: one Query (at most MAX_CUSTOM_SEGMENTS items)."""
    bound_settings()
    return [
        _to_definition(item)
        for item in SegmentDefinitionItem.query(
            keys.segment_definitions_pk(tenant), consistent_read=True
        )
    ]


def get_definition(tenant: TenantId, segment_id: str) -> SegmentDefinition | None:
    bound_settings()
    try:
        item = SegmentDefinitionItem.get(
            keys.segment_definitions_pk(tenant), segment_id, consistent_read=True
        )
    except SegmentDefinitionItem.DoesNotExist:
        return None
    return _to_definition(item)


def save_definition(tenant: TenantId, definition: SegmentDefinition) -> SegmentDefinition:
    """Create (version 0) or replace under the version read; ConcurrentModification when
    another writer got there first."""
    bound_settings()
    item = _definition_item(tenant, definition)
    condition = SegmentDefinitionItem.pk.does_not_exist() if not definition.version else None
    try:
        item.save(condition=condition)
    except PutError as error:
        raise ConcurrentModification("the segment changed since it was read") from error
    return replace(definition, version=int(item.version or 0))


def delete_definition(tenant: TenantId, definition: SegmentDefinition) -> None:
    """Remove the definition and its (zeroed) count items once its back-fill emptied it."""
    bound_settings()
    item = _definition_item(tenant, definition)
    item.delete()
    for shard in range(keys.SEGMENT_SHARDS):
        SegmentCountItem(pk=keys.segment_counts_pk(tenant, shard), sk=definition.id).delete()
