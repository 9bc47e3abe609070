"""Interactions and points: the customer's timeline, points account, ledger, lot markers
and order claims. See docs/data-model.md for the keys and access patterns."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial

from pynamodb.expressions.update import Action

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import page_of
from chalicelib.dal.feedback import SURVEY_ANSWER_LABEL, index_feedback, survey_answer
from chalicelib.dal.feedback_models import FeedbackInteractionItem
from chalicelib.dal.models import (
    InteractionItem,
    LedgerItem,
    LotItem,
    OrderItem,
    PointsItem,
    PurchaseTallyItem,
)
from chalicelib.dal.transactions import (
    ConditionsFailed,
    LabelledTransaction,
    commit_grouped,
    commit_with_retry,
)
from chalicelib.domain.clock import sortable_timestamp, utc_now
from chalicelib.domain.errors import (
    ConcurrentModification,
    PurchaseCapExceeded,
    SurveyAlreadyAnswered,
)
from chalicelib.domain.interactions import Channel, Interaction, InteractionType, Order
from chalicelib.domain.loyalty import EntryType, LedgerEntry, PointsAccount
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId

_POINTS = "points"
MARKER_TTL = timedelta(days=30)
MAX_MARKER_DELETES = 50
_ORDER_CLAIM = "order"
_ORDER_UPDATE = "order_update"
_PURCHASE_TALLY = "purchase_tally"
AMOUNT_UNITS_PER_CURRENCY_UNIT = 10_000
TALLY_TTL = timedelta(days=3)


class OrderAlreadyRecorded(Exception):
    """A purchase names an order id the tenant already recorded."""

    def __init__(self, order_id: str) -> None:
        super().__init__(order_id)
        self.order_id = order_id


@dataclass(frozen=True)
class DailyPurchaseTally:
    """Adds `amount` to the customer's app-credential purchases of `day`, on condition the
    day's total stays within `limit` (amounts have at most four decimal places)."""

    day: date
    amount: Decimal
    limit: Decimal

    def units(self, value: Decimal) -> int:
        return int(value * AMOUNT_UNITS_PER_CURRENCY_UNIT)


@dataclass(frozen=True)
class ConditionedPart:
    """Writes another feature adds to a points transaction (a reward's stock, say): `add`
    puts them into the transaction under labels starting with `label`, and `refused`
    answers the error to raise when one of their conditions fails (given the labels of
    those that failed)."""

    label: str
    add: Callable[[LabelledTransaction], None]
    refused: Callable[[set[str]], Exception]


@dataclass
class LoyaltyWrite:
    """Everything one request changes for one customer, committed in one transaction."""

    customer_id: str
    interaction: Interaction | None = None
    account_before: PointsAccount | None = None
    account_after: PointsAccount | None = None
    entries: Sequence[LedgerEntry] = ()
    lots_added: set[date] = field(default_factory=set)
    lots_expired: set[date] = field(default_factory=set)
    new_order: Order | None = None
    updated_order: Order | None = None
    purchase_tally: DailyPurchaseTally | None = None
    parts: Sequence[ConditionedPart] = ()


# Conversions between items and domain objects.


def _interaction_item(tenant: TenantId, interaction: Interaction) -> InteractionItem:
    occurred = sortable_timestamp(interaction.occurred_at)
    feedback = interaction.type is InteractionType.FEEDBACK
    model = FeedbackInteractionItem if feedback else InteractionItem
    item = model(
        pk=keys.customer_pk(tenant, interaction.customer_id),
        sk=keys.interaction_sk(occurred, interaction.id),
        gsi2pk=keys.interactions_by_type_pk(
            tenant, interaction.customer_id, interaction.type.value
        ),
        gsi2sk=f"{occurred}#{interaction.id}",
        tenant_id=tenant,
        customer_id=interaction.customer_id,
        interaction_id=interaction.id,
        type=interaction.type.value,
        channel=interaction.channel.value if interaction.channel else None,
        location_id=interaction.location_id,
        occurred_at=interaction.occurred_at,
        recorded_at=interaction.recorded_at,
        details=json.dumps(interaction.details, separators=(",", ":"), default=str),
        custom_attributes=json.dumps(interaction.attributes, separators=(",", ":")),
        points=interaction.points,
    )
    if isinstance(item, FeedbackInteractionItem):
        index_feedback(tenant, interaction, item)
    return item


def interaction_from_item(item: InteractionItem) -> Interaction:
    return Interaction(
        id=item.interaction_id,
        customer_id=item.customer_id,
        type=InteractionType(item.type),
        occurred_at=item.occurred_at,
        recorded_at=item.recorded_at,
        channel=Channel(item.channel) if item.channel else None,
        location_id=item.location_id,
        attributes=json.loads(item.custom_attributes),
        details=json.loads(item.details),
        points=int(item.points or 0),
    )


def _points_item(tenant: TenantId, customer_id: str, account: PointsAccount) -> PointsItem:
    due = account.tier_evaluation.isoformat() if account.tier_evaluation else None
    item = PointsItem(
        pk=keys.customer_pk(tenant, customer_id),
        sk=keys.POINTS_SK,
        gsi2pk=keys.tier_evaluation_pk(tenant, due) if due else None,
        gsi2sk=customer_id if due else None,
        tenant_id=tenant,
        customer_id=customer_id,
        lots=json.dumps({d.isoformat(): p for d, p in sorted(account.lots.items()) if p}),
        balance=account.balance,
        lifetime_earned=account.lifetime_earned,
        redeemed=account.redeemed,
        expired=account.expired,
        reversed=account.reversed,
        deducted=account.deducted,
        clawback_pending=account.clawback_pending,
        tier=account.tier,
        spend_by_month=json.dumps({m: str(a) for m, a in sorted(account.spend_by_month.items())}),
        tier_evaluation=due,
        closed_at=account.closed_at,
        updated_at=utc_now(),
    )
    if account.version:
        item.version = account.version
    return item


def account_from_item(item: PointsItem) -> PointsAccount:
    lots = {date.fromisoformat(d): int(p) for d, p in json.loads(item.lots).items()}
    spend = {m: Decimal(a) for m, a in json.loads(item.spend_by_month).items()}
    return PointsAccount(
        lots=lots,
        lifetime_earned=int(item.lifetime_earned),
        redeemed=int(item.redeemed),
        expired=int(item.expired),
        reversed=int(item.reversed),
        deducted=int(item.deducted),
        clawback_pending=int(item.clawback_pending),
        tier=item.tier,
        spend_by_month=spend,
        tier_evaluation=date.fromisoformat(item.tier_evaluation) if item.tier_evaluation else None,
        version=int(item.version or 0),
        closed_at=item.closed_at,
    )


def _ledger_item(
    tenant: TenantId, customer_id: str, entry: LedgerEntry, version: int, position: int
) -> LedgerItem:
    return LedgerItem(
        pk=keys.customer_pk(tenant, customer_id),
        sk=keys.ledger_sk(version, position),
        tenant_id=tenant,
        customer_id=customer_id,
        type=entry.type.value,
        points=entry.points,
        balance_after=entry.balance_after,
        at=entry.at,
        actor=entry.actor,
        interaction_id=entry.interaction_id,
        reference=entry.reference,
        reason=entry.reason,
        tier=entry.tier,
    )


def ledger_entry_from_item(item: LedgerItem) -> LedgerEntry:
    return LedgerEntry(
        type=EntryType(item.type),
        points=int(item.points),
        balance_after=int(item.balance_after),
        at=item.at,
        actor=item.actor,
        interaction_id=item.interaction_id,
        reference=item.reference,
        reason=item.reason,
        tier=item.tier,
        sequence=item.sk.removeprefix("LEDGER#"),
    )


def _lot_item(tenant: TenantId, customer_id: str, expires_on: date) -> LotItem:
    day = expires_on.isoformat()
    forgotten = datetime.combine(expires_on + MARKER_TTL, time(0), tzinfo=UTC)
    return LotItem(
        pk=keys.customer_pk(tenant, customer_id),
        sk=keys.lot_sk(day),
        gsi2pk=keys.lots_expiring_pk(tenant, day),
        gsi2sk=customer_id,
        tenant_id=tenant,
        customer_id=customer_id,
        expires_on=day,
        ttl=int(forgotten.timestamp()),
    )


def _order_item(tenant: TenantId, order: Order) -> OrderItem:
    item = OrderItem(
        pk=keys.order_pk(tenant, order.order_id),
        sk=keys.ORDER_SK,
        tenant_id=tenant,
        order_id=order.order_id,
        customer_id=order.customer_id,
        interaction_id=order.interaction_id,
        amount=str(order.amount),
        currency=order.currency,
        points=order.points,
        occurred_at=order.occurred_at,
        refunded_amount=str(order.refunded_amount),
        points_reversed=order.points_reversed,
    )
    if order.version:
        item.version = order.version
    return item


def _to_order(item: OrderItem) -> Order:
    return Order(
        order_id=item.order_id,
        customer_id=item.customer_id,
        interaction_id=item.interaction_id,
        amount=Decimal(item.amount),
        currency=item.currency,
        points=int(item.points),
        occurred_at=item.occurred_at,
        refunded_amount=Decimal(item.refunded_amount),
        points_reversed=int(item.points_reversed),
        version=int(item.version or 0),
    )


# Reads.


def get_account(tenant: TenantId, customer_id: str) -> PointsAccount | None:
    bound_settings()
    try:
        item = PointsItem.get(
            keys.customer_pk(tenant, customer_id), keys.POINTS_SK, consistent_read=True
        )
    except PointsItem.DoesNotExist:
        return None
    return account_from_item(item)


def get_accounts(tenant: TenantId, customer_ids: Iterable[str]) -> dict[str, PointsAccount]:
    """The points accounts of those of `customer_ids` that have one: strongly consistent
    BatchGetItem calls of up to 100 keys (a batch of interactions reads them at once)."""
    bound_settings()
    wanted = [
        (keys.customer_pk(tenant, customer_id), keys.POINTS_SK) for customer_id in set(customer_ids)
    ]
    if not wanted:
        return {}
    items = PointsItem.batch_get(wanted, consistent_read=True)
    return {item.customer_id: account_from_item(item) for item in items}


def get_order(tenant: TenantId, order_id: str) -> Order | None:
    bound_settings()
    try:
        item = OrderItem.get(keys.order_pk(tenant, order_id), keys.ORDER_SK, consistent_read=True)
    except OrderItem.DoesNotExist:
        return None
    return _to_order(item)


def get_order_interaction(tenant: TenantId, order: Order) -> Interaction | None:
    """The purchase that claimed `order` (its key is derived from the claim)."""
    bound_settings()
    try:
        item = InteractionItem.get(
            keys.customer_pk(tenant, order.customer_id),
            keys.interaction_sk(sortable_timestamp(order.occurred_at), order.interaction_id),
            consistent_read=True,
        )
    except InteractionItem.DoesNotExist:
        return None
    return interaction_from_item(item)


def get_interaction(
    tenant: TenantId, customer_id: str, occurred_at: datetime, interaction_id: str
) -> Interaction | None:
    bound_settings()
    try:
        item = InteractionItem.get(
            keys.customer_pk(tenant, customer_id),
            keys.interaction_sk(sortable_timestamp(occurred_at), interaction_id),
            consistent_read=True,
        )
    except InteractionItem.DoesNotExist:
        return None
    return interaction_from_item(item)


def get_ledger_entries(
    tenant: TenantId, customer_id: str, sequences: Sequence[str]
) -> list[LedgerEntry]:
    """The named entries (BatchGetItem), in ledger order."""
    bound_settings()
    pk = keys.customer_pk(tenant, customer_id)
    wanted = [(pk, f"LEDGER#{sequence}") for sequence in sequences]
    found = (
        [ledger_entry_from_item(item) for item in LedgerItem.batch_get(wanted)] if wanted else []
    )
    return sorted(found, key=lambda entry: entry.sequence)


def list_ledger(tenant: TenantId, customer_id: str, page: PageRequest) -> Page[LedgerEntry]:
    """Newest first: one Query on the customer's `LEDGER#` items per page."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        f"ledger:{customer_id}",
        page,
        lambda start, limit: LedgerItem.query(
            keys.customer_pk(tenant, customer_id),
            LedgerItem.sk.startswith("LEDGER#"),
            scan_index_forward=False,
            consistent_read=True,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
    )
    return Page([ledger_entry_from_item(item) for item in items], cursor)


def iter_ledger(tenant: TenantId, customer_id: str) -> Iterator[LedgerEntry]:
    """The whole ledger, oldest first (reconciliation and tests)."""
    bound_settings()
    for item in LedgerItem.query(
        keys.customer_pk(tenant, customer_id),
        LedgerItem.sk.startswith("LEDGER#"),
        consistent_read=True,
    ):
        yield ledger_entry_from_item(item)


def customers_with_lots_expiring(tenant: TenantId, day: date) -> Iterator[str]:
    """Customers holding a lot that expires on `day`: a Query on gsi2, nothing else read."""
    bound_settings()
    for item in LotItem.by_expiry.query(keys.lots_expiring_pk(tenant, day.isoformat())):
        yield item.customer_id


def customers_with_lots_expiring_page(tenant: TenantId, day: date, page: PageRequest) -> Page[str]:
    """One page of the customers holding a lot that expires on `day`: the expiry job's
    Query on gsi2, a page at a time with a signed cursor (campaign sweeps resume from it)."""
    bound_settings()
    day_iso = day.isoformat()
    items, cursor = page_of(
        tenant,
        f"lots:expiring:{day_iso}",
        page,
        lambda start, limit: LotItem.by_expiry.query(
            keys.lots_expiring_pk(tenant, day_iso),
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        index_keys=("gsi2pk", "gsi2sk"),
    )
    return Page([item.customer_id for item in items], cursor)


def customers_due_for_tier_evaluation(tenant: TenantId, day: date) -> Iterator[str]:
    bound_settings()
    for item in PointsItem.by_tier_evaluation.query(
        keys.tier_evaluation_pk(tenant, day.isoformat())
    ):
        yield item.customer_id


# The one write.


def _build(tenant: TenantId, write: LoyaltyWrite) -> LabelledTransaction:
    transaction = LabelledTransaction()
    customer = write.customer_id
    for day in sorted(write.lots_expired - write.lots_added)[:MAX_MARKER_DELETES]:
        transaction.delete(f"lot-expired:{day}", _lot_item(tenant, customer, day))
    if write.interaction is not None:
        _add_interaction(transaction, tenant, write.interaction)
    if write.account_after is not None and write.account_before is not None:
        after = _points_item(
            tenant, customer, _with_version(write.account_after, write.account_before.version)
        )
        transaction.put(_POINTS, after)
        version = write.account_before.version + 1
        for position, entry in enumerate(write.entries):
            item = _ledger_item(tenant, customer, entry, version, position)
            transaction.put(f"ledger:{position}", item, condition=LedgerItem.sk.does_not_exist())
    for day in sorted(write.lots_added):
        transaction.put(f"lot:{day}", _lot_item(tenant, customer, day))
    if write.new_order is not None:
        transaction.put(
            _ORDER_CLAIM,
            _order_item(tenant, write.new_order),
            condition=OrderItem.pk.does_not_exist(),
        )
    if write.updated_order is not None:
        transaction.put(_ORDER_UPDATE, _order_item(tenant, write.updated_order))
    if write.purchase_tally is not None:
        _add_to_tally(transaction, tenant, customer, write.purchase_tally)
    for part in write.parts:
        part.add(transaction)
    return transaction


def _add_interaction(
    transaction: LabelledTransaction, tenant: TenantId, interaction: Interaction
) -> None:
    """The interaction, new, and the survey answer's claim when it answers one."""
    transaction.put(
        "interaction",
        _interaction_item(tenant, interaction),
        condition=InteractionItem.pk.does_not_exist(),
    )
    answer = survey_answer(tenant, interaction)
    if answer is not None:
        transaction.put(SURVEY_ANSWER_LABEL, answer[0], condition=answer[1])


def _add_to_tally(
    transaction: LabelledTransaction, tenant: TenantId, customer_id: str, tally: DailyPurchaseTally
) -> None:
    """One conditioned ADD: concurrent purchases cannot pass the cap together, since each
    transaction's condition is checked against the total the others committed."""
    amount, limit = tally.units(tally.amount), tally.units(tally.limit)
    if amount > limit:
        raise ValueError("a purchase over the daily cap cannot be tallied")
    item = PurchaseTallyItem(
        pk=keys.customer_pk(tenant, customer_id), sk=keys.purchase_tally_sk(tally.day.isoformat())
    )
    forgotten = datetime.combine(tally.day + TALLY_TTL, time(0), tzinfo=UTC)
    actions: list[Action] = [
        PurchaseTallyItem.entity.set("purchase_tally"),
        PurchaseTallyItem.amount_units.add(amount),
        PurchaseTallyItem.ttl.set(int(forgotten.timestamp())),
    ]
    within = PurchaseTallyItem.amount_units.does_not_exist() | (
        PurchaseTallyItem.amount_units <= limit - amount
    )
    transaction.update(_PURCHASE_TALLY, item, actions, condition=within)


def purchase_tally(tenant: TenantId, customer_id: str, day: date) -> Decimal:
    """The day's tallied amount (tests and support; the cap itself is the condition above)."""
    bound_settings()
    try:
        item = PurchaseTallyItem.get(
            keys.customer_pk(tenant, customer_id),
            keys.purchase_tally_sk(day.isoformat()),
            consistent_read=True,
        )
    except PurchaseTallyItem.DoesNotExist:
        return Decimal(0)
    return Decimal(int(item.amount_units)) / AMOUNT_UNITS_PER_CURRENCY_UNIT


def build_write(tenant: TenantId, write: LoyaltyWrite) -> LabelledTransaction:
    """The transaction `commit` sends, for a caller adding writes of its own to it."""
    return _build(tenant, write)


def points_item(tenant: TenantId, customer_id: str, account: PointsAccount) -> PointsItem:
    return _points_item(tenant, customer_id, account)


def lot_item(tenant: TenantId, customer_id: str, expires_on: date) -> LotItem:
    return _lot_item(tenant, customer_id, expires_on)


def _with_version(account: PointsAccount, version: int) -> PointsAccount:
    return replace(account, version=version)


def commit(tenant: TenantId, write: LoyaltyWrite) -> list[LedgerEntry]:
    """Write the interaction, the account (conditioned on the version read), its ledger
    entries, lot markers and order claim in one TransactWriteItems.

    Answers the entries written, each with its ledger position. Raises
    OrderAlreadyRecorded for a purchase whose order id is taken, and
    ConcurrentModification when the account or order changed since it was read.
    """
    bound_settings()
    try:
        commit_with_retry(lambda: _build(tenant, write))
    except ConditionsFailed as error:
        labels = {failure.label for failure in error.failures}
        if SURVEY_ANSWER_LABEL in labels:
            raise SurveyAlreadyAnswered(
                "the customer already answered this campaign's survey"
            ) from error
        if _ORDER_CLAIM in labels and write.new_order is not None:
            raise OrderAlreadyRecorded(write.new_order.order_id) from error
        if _PURCHASE_TALLY in labels and write.purchase_tally is not None:
            limit = write.purchase_tally.limit
            raise PurchaseCapExceeded(
                "max_daily_purchase_amount",
                limit,
                f"the customer's purchases recorded with app credentials today would exceed "
                f"{limit}",
            ) from error
        for part in write.parts:
            failed = {label for label in labels if label.startswith(part.label)}
            if failed:
                raise part.refused(failed) from error
        raise ConcurrentModification("the points account changed; retry") from error
    version = (write.account_before.version if write.account_before else 0) + 1
    return [
        replace(entry, sequence=keys.ledger_sk(version, position).removeprefix("LEDGER#"))
        for position, entry in enumerate(write.entries)
    ]


def commit_together(tenant: TenantId, writes: Sequence[LoyaltyWrite]) -> list[bool]:
    """Commit the writes of distinct customers (each what `commit` writes, with the same
    conditions) grouped, up to 100 actions per TransactWriteItems.

    Answers, per write, whether it was committed. Nothing of a write not committed was
    written (its order id was taken, its account changed, a conflict): the caller records
    it again on its own (`commit`), which says why.
    """
    bound_settings()
    if len({write.customer_id for write in writes}) != len(writes):
        raise ValueError("writes committed together must be of distinct customers")
    return commit_grouped([partial(_build, tenant, write) for write in writes])


def stored_account(tenant: TenantId, write: LoyaltyWrite) -> PointsAccount:
    """The account a committed `write` stored, as a read would answer it."""
    if write.account_after is None or write.account_before is None:
        raise ValueError("the write changes no account")
    version = write.account_before.version + 1
    return account_from_item(
        _points_item(tenant, write.customer_id, _with_version(write.account_after, version))
    )


def put_interactions(tenant: TenantId, interactions: Sequence[Interaction]) -> None:
    """Interactions that move no points, for customers known to exist: BatchWriteItem calls
    of up to 25 items, unprocessed items sent again (PynamoDB's batch write). Unlike
    `put_interaction` there is no condition: each id is new (a ULID made just before)."""
    bound_settings()
    with InteractionItem.batch_write() as batch:
        for interaction in interactions:
            batch.save(_interaction_item(tenant, interaction))


def put_interaction(tenant: TenantId, interaction: Interaction) -> None:
    """An interaction that moves no points: one PutItem (an answer to a campaign's survey:
    one TransactWriteItems with its claim)."""
    if survey_answer(tenant, interaction) is not None:
        commit(tenant, LoyaltyWrite(interaction.customer_id, interaction=interaction))
        return
    bound_settings()
    _interaction_item(tenant, interaction).save(condition=InteractionItem.pk.does_not_exist())
