"""Customers' rights: everything held about one customer (export) and its erasure.

Reads are Queries and GetItems only: the customer's partition holds the profile,
interactions, points account, ledger, lot markers, ticket copies, ticket events, campaign
messages, the segment state and the erasure record; each ticket's partition holds its
comments. Writes
go through the item models and LabelledTransaction. See docs/data-model.md
("Customers' rights").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.expressions.update import Action

from chalicelib.dal import keys
from chalicelib.dal import tickets as ticket_repository
from chalicelib.dal.campaign_models import CampaignMessageItem
from chalicelib.dal.connection import bound_settings, transaction_connection
from chalicelib.dal.customers import customer_from_raw
from chalicelib.dal.customers import delete_customer as delete_profile
from chalicelib.dal.loyalty import account_from_item, interaction_from_item, ledger_entry_from_item
from chalicelib.dal.models import (
    CustomerTicketItem,
    DataTableModel,
    ErasureItem,
    InteractionItem,
    LedgerItem,
    LotItem,
    PointsItem,
    SegmentEventItem,
    SegmentStateItem,
    TicketCommentItem,
    TicketEventItem,
)
from chalicelib.dal.rewards import redemption_from_item
from chalicelib.dal.rewards_models import RewardRedemptionItem
from chalicelib.dal.segments import segment_state_from_plain
from chalicelib.dal.tickets import comment_from_item, ticket_event_from_item, ticket_from_item
from chalicelib.dal.timeline import campaign_message_entry
from chalicelib.dal.transactions import ConditionsFailed, LabelledTransaction, commit_with_retry
from chalicelib.domain.clock import sortable_timestamp, utc_now
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.interactions import Interaction
from chalicelib.domain.loyalty import LedgerEntry, PointsAccount
from chalicelib.domain.privacy import (
    ERASED,
    Erasure,
    anonymised_details,
    anonymised_ticket,
    is_anonymised,
)
from chalicelib.domain.rewards import RewardRedemption
from chalicelib.domain.segments import SegmentState
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tickets import Comment, Ticket, TicketChange, TicketEvent
from chalicelib.domain.timeline import TimelineEntry

# Updates per transaction in the sweep (TransactWriteItems takes 100; smaller batches keep
# a conflict's retry cheap).
SWEEP_BATCH = 25
TICKET_ATTEMPTS = 5


@dataclass
class CustomerHoldings:
    """Every item of the customer's partition, as domain objects."""

    customer: Customer | None = None
    state: SegmentState | None = None
    account: PointsAccount | None = None
    interactions: list[Interaction] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    lots: list[date] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    ticket_events: list[TicketEvent] = field(default_factory=list)
    erasure: Erasure | None = None
    reward_redemptions: list[RewardRedemption] = field(default_factory=list)
    campaign_messages: list[TimelineEntry] = field(default_factory=list)
    # The outbox events the customer's sent campaign messages published (their rendered
    # text holds the customer's values).
    message_event_ids: list[str] = field(default_factory=list)
    # The ticket subject each event item copied (events are not read back with it).
    event_subjects: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def holds_history(self) -> bool:
        """Whether anything but the profile is held (a deleted customer's history is)."""
        return bool(
            self.account
            or self.interactions
            or self.ledger
            or self.lots
            or self.tickets
            or self.ticket_events
            or self.state
        )


def _query_all(
    pk: str, sort_prefix: str | None = None, page_size: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every item of partition `pk` (optionally under a sort-key prefix), oldest sort key
    first, consistent, page after page (pages of up to 1 MB, or `page_size` items)."""
    settings = bound_settings()
    request: dict[str, Any] = {
        "TableName": settings.data_table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ConsistentRead": True,
        "ReturnConsumedCapacity": "TOTAL",  # counted in the tenant's usage (dal/metering)
    }
    if sort_prefix is not None:
        request["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
        request["ExpressionAttributeValues"][":prefix"] = {"S": sort_prefix}
    if page_size is not None:
        request["Limit"] = page_size
    client = transaction_connection().client
    while True:
        answer = client.query(**request)
        yield from answer.get("Items", [])
        start = answer.get("LastEvaluatedKey")
        if not start:
            return
        request["ExclusiveStartKey"] = start


def _to_erasure(item: ErasureItem) -> Erasure:
    return Erasure(
        customer_id=item.customer_id,
        requested_at=item.requested_at,
        requested_by=item.requested_by,
        completed_at=item.completed_at,
        items_anonymised=int(item.items_anonymised or 0),
    )


def _erasure_item(tenant: TenantId, erasure: Erasure) -> ErasureItem:
    return ErasureItem(
        pk=keys.customer_pk(tenant, erasure.customer_id),
        sk=keys.ERASURE_SK,
        tenant_id=tenant,
        customer_id=erasure.customer_id,
        requested_at=erasure.requested_at,
        requested_by=erasure.requested_by,
        completed_at=erasure.completed_at,
        items_anonymised=erasure.items_anonymised,
    )


_READERS: dict[str, Callable[[CustomerHoldings, dict[str, Any]], None]] = {
    "customer": lambda h, raw: setattr(h, "customer", customer_from_raw(raw)),
    "customer_segments": lambda h, raw: setattr(
        h, "state", segment_state_from_plain(_plain(SegmentStateItem, raw))
    ),
    "points": lambda h, raw: setattr(
        h, "account", account_from_item(PointsItem.from_raw_data(raw))
    ),
    "interaction": lambda h, raw: h.interactions.append(
        interaction_from_item(InteractionItem.from_raw_data(raw))
    ),
    "ledger_entry": lambda h, raw: h.ledger.append(
        ledger_entry_from_item(LedgerItem.from_raw_data(raw))
    ),
    "lot": lambda h, raw: h.lots.append(date.fromisoformat(LotItem.from_raw_data(raw).expires_on)),
    "customer_ticket": lambda h, raw: h.tickets.append(
        ticket_from_item(CustomerTicketItem.from_raw_data(raw))
    ),
    "ticket_event": lambda h, raw: _read_event(h, TicketEventItem.from_raw_data(raw)),
    "erasure": lambda h, raw: setattr(h, "erasure", _to_erasure(ErasureItem.from_raw_data(raw))),
    "reward_redemption": lambda h, raw: h.reward_redemptions.append(
        redemption_from_item(RewardRedemptionItem.from_raw_data(raw))
    ),
    "campaign_message": lambda h, raw: _read_message(h, CampaignMessageItem.from_raw_data(raw)),
}


def _read_message(holdings: CustomerHoldings, item: CampaignMessageItem) -> None:
    holdings.campaign_messages.append(campaign_message_entry(item))
    if item.event_id is not None:
        holdings.message_event_ids.append(item.event_id)


def _read_event(holdings: CustomerHoldings, item: TicketEventItem) -> None:
    event = ticket_event_from_item(item)
    holdings.ticket_events.append(event)
    holdings.event_subjects[(event.ticket_id, event.seq)] = item.subject


def _plain(model: type[SegmentStateItem], raw: dict[str, Any]) -> dict[str, Any]:
    item = model.from_raw_data(raw)
    return {
        "metrics": item.metrics,
        "segments": item.segments,
        "rfm": item.rfm,
        "next_change": item.next_change,
        "version": item.version,
    }


def read_holdings(
    tenant: TenantId, customer_id: str, page_size: int | None = None
) -> CustomerHoldings:
    """The customer's whole partition in one consistent Query (paged): interactions and
    ledger oldest first, ticket copies and events in created order."""
    holdings = CustomerHoldings()
    for raw in _query_all(keys.customer_pk(tenant, customer_id), page_size=page_size):
        entity = raw.get("entity", {}).get("S", "")
        reader = _READERS.get(entity)
        if reader is not None:
            reader(holdings, raw)
    return holdings


def ticket_comments(tenant: TenantId, ticket_id: str) -> list[Comment]:
    """All of a ticket's comments, internal ones included, oldest first (one Query, paged)."""
    return [
        comment_from_item(TicketCommentItem.from_raw_data(raw))
        for raw in _query_all(keys.ticket_pk(tenant, ticket_id), keys.TICKET_COMMENT_PREFIX)
    ]


# Erasure.


def erase_profile(tenant: TenantId, customer: Customer, erasure: Erasure) -> None:
    """Delete the profile, its unique claims and tag listings (as a plain delete does) and
    record the erasure, in one transaction: from then on the customer is gone from every
    read and the erasure can be resumed. Raises ConcurrentModification when the profile
    changed since it was read."""
    bound_settings()

    def record(transaction: LabelledTransaction) -> None:
        transaction.put(
            "erasure",
            _erasure_item(tenant, erasure),
            condition=ErasureItem.pk.does_not_exist(),
        )

    delete_profile(tenant, customer, also=record)


def record_erasure(tenant: TenantId, erasure: Erasure) -> None:
    """Record the erasure of a customer whose profile is already gone (deleted earlier
    without erasure: its history is still held)."""
    bound_settings()
    try:
        _erasure_item(tenant, erasure).save(condition=ErasureItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise ConcurrentModification("the erasure was recorded by another request") from error
        raise


def _close_account(tenant: TenantId, customer_id: str, account: PointsAccount) -> None:
    """Close the points account under the version read: from then on no request can add
    an interaction or move points for this customer (the daily job still expires lots)."""
    item = PointsItem(pk=keys.customer_pk(tenant, customer_id), sk=keys.POINTS_SK)
    item.version = account.version

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        transaction.update(
            "close-account",
            item,
            [PointsItem.closed_at.set(utc_now())],
            condition=PointsItem.version == account.version,
        )
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        raise ConcurrentModification("the points account changed; retry") from error


def finish_erasure(tenant: TenantId, erasure: Erasure) -> None:
    bound_settings()
    _erasure_item(tenant, erasure).save()


@dataclass(frozen=True)
class _Update:
    label: str
    item: DataTableModel
    actions: list[Action]


def _interaction_update(tenant: TenantId, interaction: Interaction) -> _Update | None:
    details = anonymised_details(interaction.details)
    if details == interaction.details and not interaction.attributes:
        return None
    item = InteractionItem(
        pk=keys.customer_pk(tenant, interaction.customer_id),
        sk=keys.interaction_sk(sortable_timestamp(interaction.occurred_at), interaction.id),
    )
    actions: list[Action] = [
        InteractionItem.details.set(json.dumps(details, separators=(",", ":"), default=str)),
        InteractionItem.custom_attributes.set("{}"),
    ]
    return _Update(f"interaction:{interaction.id}", item, actions)


def _ledger_update(tenant: TenantId, customer_id: str, entry: LedgerEntry) -> _Update | None:
    if entry.reason is None and entry.reference is None:
        return None
    item = LedgerItem(pk=keys.customer_pk(tenant, customer_id), sk=f"LEDGER#{entry.sequence}")
    actions: list[Action] = [LedgerItem.reason.remove(), LedgerItem.reference.remove()]
    return _Update(f"ledger:{entry.sequence}", item, actions)


def _event_update(tenant: TenantId, event: TicketEvent, subject: str | None) -> _Update | None:
    if event.note is None and subject == ERASED:
        return None
    item = TicketEventItem(
        pk=keys.customer_pk(tenant, event.customer_id),
        sk=keys.ticket_event_sk(sortable_timestamp(event.at), event.ticket_id, event.seq),
    )
    actions: list[Action] = [TicketEventItem.subject.set(ERASED), TicketEventItem.note.remove()]
    return _Update(f"ticket_event:{event.ticket_id}:{event.seq}", item, actions)


def _comment_update(tenant: TenantId, comment: Comment) -> _Update | None:
    if comment.body == ERASED:
        return None
    item = TicketCommentItem(
        pk=keys.ticket_pk(tenant, comment.ticket_id),
        sk=keys.ticket_comment_sk(sortable_timestamp(comment.created_at), comment.id),
    )
    return _Update(f"comment:{comment.id}", item, [TicketCommentItem.body.set(ERASED)])


def _commit_updates(updates: list[_Update]) -> int:
    """Apply the updates in transactions of SWEEP_BATCH, each conditioned on its item still
    existing (an update never recreates a deleted item). Answers how many were applied."""
    for start in range(0, len(updates), SWEEP_BATCH):
        batch = updates[start : start + SWEEP_BATCH]

        def build(batch: list[_Update] = batch) -> LabelledTransaction:
            transaction = LabelledTransaction()
            for update in batch:
                model = type(update.item)
                transaction.update(
                    update.label, update.item, update.actions, condition=model.pk.exists()
                )
            return transaction

        try:
            commit_with_retry(build)
        except ConditionsFailed as error:
            raise ConcurrentModification(
                "an item of the customer changed during the erasure; retry"
            ) from error
    return len(updates)


def _anonymise_ticket(tenant: TenantId, ticket_id: str) -> int:
    """Anonymise the ticket and its copy under the customer through the ticket's own write
    path (version-conditioned), so a concurrent change of the ticket cannot put its old
    text back: it fails on the version and re-reads the anonymised ticket."""
    for _ in range(TICKET_ATTEMPTS):
        current = ticket_repository.get_ticket(tenant, ticket_id)
        if current is None or is_anonymised(current):
            return 0
        try:
            ticket_repository.save_ticket(
                tenant, TicketChange(anonymised_ticket(current)), current.version
            )
        except ConcurrentModification:
            continue
        return 1
    raise ConcurrentModification(f"ticket {ticket_id} kept changing during the erasure; retry")


def anonymise_holdings(tenant: TenantId, customer_id: str) -> int:
    """Remove the personal values left in the customer's partition and its tickets'
    partitions (the profile itself is already gone). Idempotent: what is already
    anonymised is not written again. Answers the number of items changed."""
    holdings = read_holdings(tenant, customer_id)
    changed = 0
    if holdings.account is not None and holdings.account.closed_at is None:
        _close_account(tenant, customer_id, holdings.account)
        changed += 1
        # read again: nothing can be added for the customer once its account is closed
        holdings = read_holdings(tenant, customer_id)
    for ticket in holdings.tickets:
        changed += _anonymise_ticket(tenant, ticket.id)
    updates: list[_Update | None] = [_interaction_update(tenant, i) for i in holdings.interactions]
    updates += [_ledger_update(tenant, customer_id, e) for e in holdings.ledger]
    updates += [
        _event_update(tenant, event, holdings.event_subjects.get((event.ticket_id, event.seq)))
        for event in holdings.ticket_events
    ]
    for ticket in holdings.tickets:
        updates += [_comment_update(tenant, c) for c in ticket_comments(tenant, ticket.id)]
    changed += _commit_updates([u for u in updates if u is not None])
    return changed + _delete_events(tenant, holdings.message_event_ids)


def _delete_events(tenant: TenantId, event_ids: list[str]) -> int:
    """Delete the campaign messages' outbox events, whose rendered text holds the
    customer's values (one not yet delivered is then never sent: delivery reads the event
    afresh). Answers how many were still there (a resumed erasure deletes none again)."""
    wanted = [(keys.event_pk(tenant, event_id), keys.EVENT_SK) for event_id in event_ids]
    held = list(
        SegmentEventItem.batch_get(wanted, consistent_read=True, attributes_to_get=["pk", "sk"])
    )
    with SegmentEventItem.batch_write() as batch:
        for item in held:
            batch.delete(item)
    return len(held)
