"""Customer merge (issue 16): the merge record, the sources' markers, and the move of a
source's partition to the survivor in bounded, resumable steps.

What a customer's partition holds is named once, in MOVES by entity: how a merge treats
each kind of item. Every step is one TransactWriteItems of at most STEP_ITEMS items (and
at most STEP_ACTIONS actions), each copied to the survivor (`attribute_not_exists`) and
deleted at the source (`attribute_exists`), with the step's moved-item log and the merge
record's step count (conditioned on the count read), so a crash or a concurrent retry
resumes where the last step stopped and never copies an item twice. A ticket's customer
copy moves with the ticket itself: the same transaction makes the ticket item name the new
customer, conditioned on the version the copy holds. See docs/data-model.md ("Customer
merge (issue 16)").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pynamodb.exceptions import DeleteError

from chalicelib.dal import keys
from chalicelib.dal.attribution import current_writer
from chalicelib.dal.connection import bound_settings, transaction_connection
from chalicelib.dal.customers import (
    add_merge_of_profiles,
    add_unmerge_of_profiles,
    customer_from_json,
    customer_to_json,
)
from chalicelib.dal.loyalty import (
    LoyaltyWrite,
    account_from_item,
    build_write,
    lot_item,
    points_item,
)
from chalicelib.dal.merge_models import AnyDataItem, MergedMarkerItem, MergeItem, MergeStepItem
from chalicelib.dal.models import (
    CustomerTicketItem,
    DataTableModel,
    InteractionItem,
    LedgerItem,
    LotItem,
    PointsItem,
    TicketEventItem,
    TicketItem,
)
from chalicelib.dal.transactions import (
    MAX_TRANSACTION_ACTIONS,
    ConditionsFailed,
    LabelledTransaction,
    commit_with_retry,
)
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import (
    ConcurrentModification,
    FieldIssue,
    InvalidInput,
    MergeConflict,
    UniqueConflict,
)
from chalicelib.domain.loyalty import PointsAccount
from chalicelib.domain.merge import MergedInto, MergeRecord, MergeState
from chalicelib.domain.tenancy import TenantId

STEP_ITEMS = 48
STEP_ACTIONS = MAX_TRANSACTION_ACTIONS - 2  # the rest: the step log and the record
_RECORD = "merge"


class MoveRule(StrEnum):
    MOVE = "move"  # copied to the survivor (attribute_not_exists), deleted at the source
    MOVE_TICKET = "move_ticket"  # moved, and the ticket item names the new customer
    UNION = "union"  # the survivor's item of the same key is the same marker: overwrite
    DROP = "drop"  # derived state the stream rebuilds for the survivor: deleted
    STAY = "stay"  # the merge's own items and the account (merged in the last step)
    REFUSE = "refuse"  # cannot move: a source holding one is not merged


@dataclass(frozen=True)
class EntityMove:
    model: type[DataTableModel] | None
    rule: MoveRule


MOVES: dict[str, EntityMove] = {
    "interaction": EntityMove(InteractionItem, MoveRule.MOVE),
    "ledger_entry": EntityMove(LedgerItem, MoveRule.MOVE),
    "lot": EntityMove(LotItem, MoveRule.UNION),
    "customer_segments": EntityMove(None, MoveRule.DROP),
    "customer_analytics": EntityMove(None, MoveRule.DROP),
    "purchase_tally": EntityMove(None, MoveRule.DROP),
    "points": EntityMove(None, MoveRule.STAY),
    "merged_marker": EntityMove(None, MoveRule.STAY),
    "customer_ticket": EntityMove(CustomerTicketItem, MoveRule.MOVE_TICKET),
    "ticket_event": EntityMove(TicketEventItem, MoveRule.MOVE),
    "erasure": EntityMove(None, MoveRule.REFUSE),
}
_REWRITTEN = ("customer_id", "gsi1pk", "gsi2pk", "gsi3pk", "gsi4pk", "gsi2sk")
_ACTIONS = {MoveRule.DROP: 1, MoveRule.MOVE_TICKET: 3}  # any other moved item: 2


def _query(pk: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    settings = bound_settings()
    request: dict[str, Any] = {
        "TableName": settings.data_table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ConsistentRead": True,
        "ReturnConsumedCapacity": "TOTAL",
    }
    if limit is not None:
        request["Limit"] = limit
    client = transaction_connection().client
    while True:
        answer = client.query(**request)
        yield from answer.get("Items", [])
        start = answer.get("LastEvaluatedKey")
        if not start or limit is not None:
            return
        request["ExclusiveStartKey"] = start


def _entity(raw: dict[str, Any]) -> str:
    return str(raw.get("entity", {}).get("S", ""))


REFUSED_ITEMS: dict[str, str] = {"erasure": keys.ERASURE_SK}
"""The items (entity → sort key) a merge cannot move: each is a single item of a known key,
so a merge request checks them with one GetItem each instead of reading the partition."""


def unmovable_entities(tenant: TenantId, customer_id: str) -> set[str]:
    """The kinds of item in the customer's partition that a merge cannot move."""
    settings = bound_settings()
    client = transaction_connection().client
    pk = keys.customer_pk(tenant, customer_id)
    return {
        entity
        for entity, sk in REFUSED_ITEMS.items()
        if "Item"
        in client.get_item(
            TableName=settings.data_table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
    }


# Records and markers.


def _record_item(tenant: TenantId, record: MergeRecord) -> MergeItem:
    return MergeItem(
        pk=keys.customer_pk(tenant, record.survivor_id),
        sk=keys.merge_sk(record.id),
        tenant_id=tenant,
        merge_id=record.id,
        customer_id=record.survivor_id,
        sources=json.dumps(list(record.source_ids)),
        state=record.state.value,
        steps=record.steps,
        items_moved=record.items_moved,
        started_at=record.started_at,
        finished_at=record.finished_at,
        started_by=record.started_by,
    )


def _to_record(item: MergeItem) -> MergeRecord:
    return MergeRecord(
        id=item.merge_id,
        survivor_id=item.customer_id,
        source_ids=tuple(json.loads(item.sources)),
        state=MergeState(item.state),
        started_at=item.started_at,
        started_by=item.started_by,
        steps=int(item.steps or 0),
        items_moved=int(item.items_moved or 0),
        finished_at=item.finished_at,
    )


def get_merge(tenant: TenantId, survivor_id: str, merge_id: str) -> MergeRecord | None:
    bound_settings()
    try:
        item = MergeItem.get(
            keys.customer_pk(tenant, survivor_id), keys.merge_sk(merge_id), consistent_read=True
        )
    except MergeItem.DoesNotExist:
        return None
    return _to_record(item)


def get_merged_into(tenant: TenantId, customer_id: str) -> MergedInto | None:
    """The marker of a merged source (one GetItem), None for a customer never merged."""
    bound_settings()
    try:
        item = MergedMarkerItem.get(
            keys.customer_pk(tenant, customer_id), keys.MERGED_SK, consistent_read=True
        )
    except MergedMarkerItem.DoesNotExist:
        return None
    return MergedInto(
        customer_id=item.customer_id,
        merged_into=item.merged_into,
        merge_id=item.merge_id,
        merged_at=item.merged_at,
        account_moved=bool(item.account_moved),
    )


def _marker_item(
    tenant: TenantId, source: Customer, record: MergeRecord, now: datetime
) -> MergedMarkerItem:
    return MergedMarkerItem(
        pk=keys.customer_pk(tenant, source.id),
        sk=keys.MERGED_SK,
        tenant_id=tenant,
        customer_id=source.id,
        merged_into=record.survivor_id,
        merge_id=record.id,
        merged_at=now,
        profile=customer_to_json(source),
    )


def _closed_account(
    transaction: LabelledTransaction,
    tenant: TenantId,
    customer_id: str,
    account: PointsAccount | None,
    now: datetime,
) -> None:
    """Close the source's account under the version read (or create it closed), so a
    points write that read it before the merge fails on the version and then finds it
    closed: from the merge's start no point can land on the source."""
    if account is None:
        item = points_item(tenant, customer_id, replace(PointsAccount(), closed_at=now))
        transaction.put(f"freeze:{customer_id}", item, condition=PointsItem.pk.does_not_exist())
        return
    item = PointsItem(pk=keys.customer_pk(tenant, customer_id), sk=keys.POINTS_SK)
    item.version = account.version
    transaction.update(
        f"freeze:{customer_id}",
        item,
        [PointsItem.closed_at.set(now)],
        condition=PointsItem.version == account.version,
    )


def start_merge(
    tenant: TenantId,
    record: MergeRecord,
    survivor_before: Customer,
    survivor_after: Customer,
    sources: list[Customer],
    source_accounts: dict[str, PointsAccount | None],
    now: datetime,
) -> None:
    """One transaction: the merge record, the survivor's new profile and claims (under
    the version read), each source's profile and claims gone, its marker written and its
    account closed. Raises ConcurrentModification when any of them changed since read."""
    bound_settings()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        transaction.put(
            _RECORD, _record_item(tenant, record), condition=MergeItem.pk.does_not_exist()
        )
        add_merge_of_profiles(transaction, tenant, survivor_before, survivor_after, sources)
        for source in sources:
            transaction.put(
                f"marker:{source.id}",
                _marker_item(tenant, source, record, now),
                condition=MergedMarkerItem.pk.does_not_exist(),
            )
            _closed_account(transaction, tenant, source.id, source_accounts[source.id], now)
        return transaction

    if len(build().labels) > MAX_TRANSACTION_ACTIONS:
        raise InvalidInput(
            [FieldIssue("from", "these profiles hold too many tags and claims to merge at once")],
            "merge fewer customers at once",
        )
    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        if any(f.label.startswith("marker:") for f in error.failures):
            raise MergeConflict("a source is being merged by another request") from error
        raise ConcurrentModification(
            "a customer of the merge changed since it was read; read it again and retry"
        ) from error


# The move.


def _rewritten(
    raw: dict[str, Any], from_id: str, to_id: str, tenant: TenantId, sk: str
) -> dict[str, Any]:
    """The item as it is kept in `to_id`'s partition under `sk`: its partition key, owner
    and every index key naming `from_id`'s partition or id rewritten."""
    from_pk = keys.customer_pk(tenant, from_id)
    to_pk = keys.customer_pk(tenant, to_id)
    copy = dict(raw)
    copy["pk"] = {"S": to_pk}
    copy["sk"] = {"S": sk}
    for name in _REWRITTEN:
        value = copy.get(name, {}).get("S")
        if value is None:
            continue
        if value == from_id:
            copy[name] = {"S": to_id}
        elif value.startswith(from_pk):
            copy[name] = {"S": to_pk + value.removeprefix(from_pk)}
    return copy


def _survivor_sk(raw: dict[str, Any], source_id: str) -> str:
    original = str(raw["sk"]["S"])
    if _entity(raw) == "ledger_entry":
        return keys.merged_ledger_sk(original, source_id)
    return original


def _attribute_deletes(pk: str, batch: list[tuple[EntityMove, dict[str, Any]]]) -> None:
    """Name the merge as the writer of the audited items about to be deleted, in one
    transaction (what `DataTableModel.attribute_delete` does with one UpdateItem per item),
    so the stream's REMOVE records attribute their deletion to the merge. Harmless if the
    step then fails: the items are still there, named by the merge."""
    audited = [
        (position, move.model, raw["sk"]["S"])
        for position, (move, raw) in enumerate(batch)
        if move.model is not None and move.model.audit_resource is not None
    ]
    if not audited or current_writer() is None:
        return

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        for position, model, sk in audited:
            # `update` adds the writer's attributes (and the by_tenant keys) by itself
            item = model(pk=pk, sk=sk)
            transaction.update(f"name:{position}", item, [], condition=model.pk.exists())
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        raise ConcurrentModification("the source changed during the merge; resume it") from error


def _ticket_follows(
    transaction: LabelledTransaction, label: str, tenant: TenantId, copy: DataTableModel
) -> None:
    """The ticket of the customer copy `copy` (already rewritten for its new customer)
    names that customer, conditioned on the version the copy was read at (save_ticket
    writes the ticket and its copy at one version) and one version on, as the copy: a
    ticket change that read the ticket before fails on its version and reads it again,
    and a change that landed after the copy was read fails this step, which is resumed."""
    assert isinstance(copy, CustomerTicketItem)
    read = int(copy.version)
    ticket = TicketItem(pk=keys.ticket_pk(tenant, copy.ticket_id), sk=keys.TICKET_SK)
    ticket.version = read  # the update adds one
    transaction.update(
        label,
        ticket,
        [TicketItem.customer_id.set(copy.customer_id)],
        condition=TicketItem.version == read,
    )
    copy.version = read + 1


def _next_batch(source_pk: str) -> list[tuple[EntityMove, dict[str, Any]]]:
    """The source's next movable items: at most STEP_ITEMS, within STEP_ACTIONS."""
    batch: list[tuple[EntityMove, dict[str, Any]]] = []
    actions = 0
    for raw in _query(source_pk):
        move = MOVES.get(_entity(raw))
        if move is None or move.rule in (MoveRule.STAY, MoveRule.REFUSE):
            continue
        actions += _ACTIONS.get(move.rule, 2)
        if actions > STEP_ACTIONS:
            break
        batch.append((move, raw))
        if len(batch) == STEP_ITEMS:
            break
    return batch


def move_step(tenant: TenantId, record: MergeRecord, source_id: str) -> int:
    """Move up to STEP_ITEMS movable items of the source (within STEP_ACTIONS) to the
    survivor in one transaction with the step's log; answers how many items were moved
    (0: nothing left).
    Raises ConcurrentModification when another request advanced the merge meanwhile."""
    bound_settings()
    source_pk = keys.customer_pk(tenant, source_id)
    batch = _next_batch(source_pk)
    if not batch:
        return 0
    moved: list[list[str]] = []
    _attribute_deletes(source_pk, batch)

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        moved.clear()
        for position, (move, raw) in enumerate(batch):
            original = raw["sk"]["S"]
            if move.model is not None:
                copy = move.model.from_raw_data(
                    _rewritten(
                        raw, source_id, record.survivor_id, tenant, _survivor_sk(raw, source_id)
                    )
                )
                condition = None if move.rule is MoveRule.UNION else move.model.pk.does_not_exist()
                if move.rule is MoveRule.MOVE_TICKET:
                    _ticket_follows(transaction, f"ticket:{position}", tenant, copy)
                transaction.put(f"copy:{position}", copy, condition=condition)
                moved.append([copy.sk, original])
            gone = AnyDataItem(pk=source_pk, sk=original)
            transaction.delete(f"remove:{position}", gone, condition=AnyDataItem.pk.exists())
        transaction.put(
            "log",
            MergeStepItem(
                pk=keys.customer_pk(tenant, record.survivor_id),
                sk=keys.merge_step_sk(record.id, source_id, record.steps),
                tenant_id=tenant,
                merge_id=record.id,
                source_id=source_id,
                moved=json.dumps(moved, separators=(",", ":")),
            ),
            condition=MergeStepItem.pk.does_not_exist(),
        )
        transaction.update(
            _RECORD,
            _record_item(tenant, record),
            [MergeItem.steps.add(1), MergeItem.items_moved.add(len(batch))],
            condition=(MergeItem.steps == record.steps) & (MergeItem.state == MergeState.MOVING),
        )
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        raise ConcurrentModification("the merge advanced meanwhile; resume it") from error
    return len(batch)


def get_account_item(tenant: TenantId, customer_id: str) -> PointsAccount | None:
    bound_settings()
    try:
        item = PointsItem.get(
            keys.customer_pk(tenant, customer_id), keys.POINTS_SK, consistent_read=True
        )
    except PointsItem.DoesNotExist:
        return None
    return account_from_item(item)


def merge_accounts(
    tenant: TenantId,
    record: MergeRecord,
    source_id: str,
    survivor_write: LoyaltyWrite,
    source_account: PointsAccount,
) -> None:
    """The source's points join the survivor's account (its write conditioned on the
    version read, as every points write), the source's account is removed (conditioned on
    its version) and kept in its marker for unmerge, in one transaction."""
    bound_settings()
    source_pk = keys.customer_pk(tenant, source_id)

    def build() -> LabelledTransaction:
        transaction = build_write(tenant, survivor_write)
        gone = PointsItem(pk=source_pk, sk=keys.POINTS_SK)
        gone.version = source_account.version  # the delete is conditioned on it
        transaction.delete(f"account:{source_id}", gone)
        marker = MergedMarkerItem(pk=source_pk, sk=keys.MERGED_SK)
        transaction.update(
            f"marker:{source_id}",
            marker,
            [
                MergedMarkerItem.account.set(account_to_json(source_account)),
                MergedMarkerItem.account_moved.set(1),
            ],
            condition=MergedMarkerItem.account_moved == 0,
        )
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        raise ConcurrentModification("the points changed during the merge; resume it") from error


def account_to_json(account: PointsAccount) -> str:
    return json.dumps(
        {
            "lots": {d.isoformat(): p for d, p in account.lots.items()},
            "lifetime_earned": account.lifetime_earned,
            "redeemed": account.redeemed,
            "expired": account.expired,
            "reversed": account.reversed,
            "deducted": account.deducted,
            "clawback_pending": account.clawback_pending,
            "tier": account.tier,
            "spend_by_month": {m: str(a) for m, a in account.spend_by_month.items()},
        },
        separators=(",", ":"),
    )


def account_from_json(text: str) -> PointsAccount:
    plain = json.loads(text)
    return PointsAccount(
        lots={date.fromisoformat(d): int(p) for d, p in plain["lots"].items()},
        lifetime_earned=plain["lifetime_earned"],
        redeemed=plain["redeemed"],
        expired=plain["expired"],
        reversed=plain["reversed"],
        deducted=plain["deducted"],
        clawback_pending=plain["clawback_pending"],
        tier=plain["tier"],
        spend_by_month={m: Decimal(a) for m, a in plain["spend_by_month"].items()},
    )


def finish_merge(tenant: TenantId, record: MergeRecord, now: datetime) -> MergeRecord:
    bound_settings()
    done = replace(record, state=MergeState.DONE, finished_at=now)
    _record_item(tenant, record).update(
        [MergeItem.state.set(MergeState.DONE.value), MergeItem.finished_at.set(now)],
        condition=MergeItem.pk.exists(),
    )
    return done


# Unmerge: the source's points back, then its items (by the step logs), then its profile.


def get_marker_profile_and_account(
    tenant: TenantId, source_id: str
) -> tuple[Customer, PointsAccount | None, bool] | None:
    """The source's profile as it was merged, the account it brought, and whether an
    unmerge has begun (its points already split back)."""
    bound_settings()
    try:
        item = MergedMarkerItem.get(
            keys.customer_pk(tenant, source_id), keys.MERGED_SK, consistent_read=True
        )
    except MergedMarkerItem.DoesNotExist:
        return None
    account = account_from_json(item.account) if item.account else None
    return customer_from_json(item.profile), account, bool(item.unmerging)


def begin_unmerge(
    tenant: TenantId,
    source_id: str,
    survivor_write: LoyaltyWrite,
    source_account: PointsAccount,
) -> None:
    """One transaction: the survivor's account without the source's points (under its
    version), the source's account again holding them, and the marker saying the unmerge
    began (under `unmerging = 0` and `account_moved = 1`: the split happens once)."""
    bound_settings()
    source_pk = keys.customer_pk(tenant, source_id)

    def build() -> LabelledTransaction:
        transaction = build_write(tenant, survivor_write)
        transaction.put(
            f"account:{source_id}",
            points_item(tenant, source_id, replace(source_account, version=0)),
        )
        for day in sorted(source_account.lots):
            transaction.put(f"lot:{day}", lot_item(tenant, source_id, day))
        marker = MergedMarkerItem(pk=source_pk, sk=keys.MERGED_SK)
        transaction.update(
            f"marker:{source_id}",
            marker,
            [MergedMarkerItem.unmerging.set(1)],
            condition=(MergedMarkerItem.unmerging == 0) & (MergedMarkerItem.account_moved == 1),
        )
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        raise ConcurrentModification("the points changed during the unmerge; retry") from error


def move_back_step(tenant: TenantId, merge_id: str, survivor_id: str, source_id: str) -> int:
    """Move back the items one step log names (those still at the survivor), deleting the
    log in the same transaction; answers how many log lines were handled (0: none left)."""
    settings = bound_settings()
    survivor_pk = keys.customer_pk(tenant, survivor_id)
    client = transaction_connection().client
    logs = client.query(
        TableName=settings.data_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={
            ":pk": {"S": survivor_pk},
            ":prefix": {"S": keys.merge_step_prefix(merge_id, source_id)},
        },
        ConsistentRead=True,
        Limit=1,
    ).get("Items", [])
    if not logs:
        return 0
    log = MergeStepItem.from_raw_data(logs[0])
    moved: list[list[str]] = json.loads(log.moved)
    found: dict[str, dict[str, Any]] = {}
    if moved:
        answer = client.batch_get_item(
            RequestItems={
                settings.data_table: {
                    "Keys": [{"pk": {"S": survivor_pk}, "sk": {"S": at}} for at, _ in moved],
                    "ConsistentRead": True,
                }
            }
        )
        for raw in answer.get("Responses", {}).get(settings.data_table, []):
            found[raw["sk"]["S"]] = raw

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        for position, (at, original) in enumerate(moved):
            raw = found.get(at)
            move = MOVES.get(_entity(raw)) if raw is not None else None
            if raw is None or move is None or move.model is None:
                continue
            back = move.model.from_raw_data(
                _rewritten(raw, survivor_id, source_id, tenant, original)
            )
            if move.rule is MoveRule.UNION:
                transaction.put(f"back:{position}", back)
                continue
            if move.rule is MoveRule.MOVE_TICKET:
                _ticket_follows(transaction, f"ticket:{position}", tenant, back)
            transaction.put(f"back:{position}", back, condition=move.model.pk.does_not_exist())
            here = move.model(pk=survivor_pk, sk=at)
            transaction.delete(f"leave:{position}", here, condition=move.model.pk.exists())
        transaction.delete("log", log, condition=MergeStepItem.pk.exists())
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        raise ConcurrentModification("the unmerge advanced meanwhile; resume it") from error
    return max(1, len(moved))


def finish_unmerge(
    tenant: TenantId,
    survivor_before: Customer,
    survivor_after: Customer,
    source: Customer,
) -> None:
    """One transaction: the source's profile, claims and tag listings back, the survivor
    without the unique values that go back, the source's marker gone."""
    bound_settings()
    source_pk = keys.customer_pk(tenant, source.id)

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        add_unmerge_of_profiles(transaction, tenant, survivor_before, survivor_after, source)
        marker = MergedMarkerItem(pk=source_pk, sk=keys.MERGED_SK)
        transaction.delete(f"marker:{source.id}", marker, condition=MergedMarkerItem.unmerging == 1)
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        for failure in error.failures:
            if failure.label.startswith("claim:"):
                raise UniqueConflict(
                    field_name=failure.label.removeprefix("claim:"), existing_id=None
                ) from error
        raise ConcurrentModification(
            "the survivor changed during the unmerge; repeat the request"
        ) from error


def forget_merged_sources(tenant: TenantId, survivor_id: str) -> int:
    """Delete the markers of the customers merged into `survivor_id` (each holds the
    source's profile as it was, for unmerge): an erasure of the survivor erases them too,
    and their sources cannot be unmerged any more. Idempotent; answers how many it deleted."""
    forgotten = 0
    for raw in _query(keys.customer_pk(tenant, survivor_id)):
        if _entity(raw) != "customer_merge":
            continue
        for source_id in json.loads(MergeItem.from_raw_data(raw).sources):
            marker = MergedMarkerItem(pk=keys.customer_pk(tenant, source_id), sk=keys.MERGED_SK)
            try:
                marker.delete(condition=MergedMarkerItem.merged_into == survivor_id)
            except DeleteError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                continue
            forgotten += 1
    return forgotten
