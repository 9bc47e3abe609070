"""Interactions and points: record touchpoints, earn, redeem, adjust, refund, read.

Every change to a customer's points reads the account, applies the domain rules
(`AccountChange`) and commits one transaction conditioned on the version read; a write
that loses a race re-reads and tries again, so concurrent redemptions never overdraw.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from chalicelib.caching import ExpiringLruCache
from chalicelib.dal import customers as customer_repository
from chalicelib.dal import loyalty as repository
from chalicelib.dal import timeline as timeline_repository
from chalicelib.dal.loyalty import DailyPurchaseTally, LoyaltyWrite, OrderAlreadyRecorded
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import (
    ConcurrentModification,
    DomainError,
    FieldIssue,
    InvalidInput,
    NotFound,
    PurchaseCapExceeded,
)
from chalicelib.domain.ids import is_customer_id, new_interaction_id
from chalicelib.domain.interactions import (
    BatchItem,
    Interaction,
    InteractionDraft,
    InteractionType,
    Order,
    check_occurred_at,
)
from chalicelib.domain.loyalty import (
    AccountChange,
    LedgerEntry,
    PointsAccount,
    fixed_points,
    next_tier,
    purchase_points,
    refund_reversal,
    standing,
)
from chalicelib.domain.outcomes import (
    BatchItemOutcome,
    BatchReceipt,
    BatchResult,
    ExpiringPoints,
    InteractionReceipt,
    InteractionRecord,
    LedgerEntryRecord,
    MovementReceipt,
    NextTier,
    PointsMovement,
    PointsSummary,
)
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tenant_config import AppPurchasesConfig, LoyaltyConfig
from chalicelib.domain.timeline import TimelineEntry, Window
from chalicelib.observability import BusinessMetric, count
from chalicelib.parallel import run_all
from chalicelib.services.idempotency import Receipt, idempotent_request, run_once
from chalicelib.services.tenant_config import get_tenant_config
from chalicelib.settings import get_settings

WRITE_ATTEMPTS = 30
_configs: ExpiringLruCache[LoyaltyConfig] = ExpiringLruCache()


def loyalty_config(tenant: TenantId) -> LoyaltyConfig:
    """The tenant's loyalty configuration, kept for the auth cache's time (≤ 5 s) so a
    redemption is two round trips; a changed configuration applies within that time."""
    config = _configs.get(tenant)
    if config is None:
        config = get_tenant_config(tenant).loyalty
        _configs.put(tenant, config, get_settings().auth_cache_seconds)
    return config


def _back_off(attempt: int) -> None:
    """Jittered, growing pause before re-reading an account another writer just changed."""
    time.sleep(random.uniform(0, 0.01 * (2 ** min(attempt, 6))))


def _not_found(customer_id: str) -> NotFound:
    return NotFound(f"customer {customer_id} does not exist")


@dataclass(frozen=True)
class ReadAhead:
    """What a batch knows of the customers it names: read up front (two BatchGetItem reads
    for up to 100 customers instead of a GetItem or two per item), then as its own writes
    stored them. An account that another request changed since fails the commit's version
    condition, and that item is recorded again on its own."""

    customers: frozenset[str]
    accounts: dict[str, PointsAccount]

    def knows(self, customer_id: str) -> bool:
        return customer_id in self.customers


def _read_ahead(tenant: TenantId, customer_ids: set[str]) -> ReadAhead:
    wanted = {customer_id for customer_id in customer_ids if is_customer_id(customer_id)}
    return ReadAhead(
        frozenset(customer_repository.existing_customer_ids(tenant, wanted)),
        repository.get_accounts(tenant, wanted),
    )


def _require_customer(
    tenant: TenantId, customer_id: str, read_ahead: ReadAhead | None = None
) -> None:
    if read_ahead is not None and read_ahead.knows(customer_id):
        return
    if not is_customer_id(customer_id) or not customer_repository.get_customer(tenant, customer_id):
        raise _not_found(customer_id)


def _account_of(
    tenant: TenantId,
    customer_id: str,
    closed_ok: bool = False,
    read_ahead: ReadAhead | None = None,
) -> PointsAccount:
    """The stored account; a customer who never had points starts from an empty one. The
    account of an erased customer is closed: only the daily job (`closed_ok`) uses it."""
    if not is_customer_id(customer_id):
        raise _not_found(customer_id)
    if read_ahead is not None and read_ahead.knows(customer_id):
        account: PointsAccount | None = read_ahead.accounts.get(customer_id, PointsAccount())
    else:
        account = repository.get_account(tenant, customer_id)
    if account is not None and account.closed_at is not None and not closed_ok:
        raise _not_found(customer_id)
    if account is None:
        _require_customer(tenant, customer_id)
        return PointsAccount()
    return account


@dataclass(frozen=True)
class StagedChange:
    """One attempt's outcome: the write to commit and the interaction it records."""

    write: LoyaltyWrite
    interaction: Interaction | None
    change: AccountChange


def commit_account_change(
    tenant: TenantId,
    customer_id: str,
    stage: Callable[[AccountChange], StagedChange],
    config: LoyaltyConfig,
    actor: str,
    now: datetime,
    closed_ok: bool = False,
    read_ahead: ReadAhead | None = None,
) -> tuple[StagedChange, list[LedgerEntry]]:
    """Read the account (the first attempt may take it from `read_ahead`), stage a change,
    commit it; on a lost race read again."""
    for attempt in range(WRITE_ATTEMPTS):
        known = read_ahead if attempt == 0 else None
        staged = _stage_on_account(tenant, customer_id, stage, config, actor, now, closed_ok, known)
        try:
            entries = repository.commit(tenant, staged.write)
        except ConcurrentModification:
            _back_off(attempt)
            continue
        _count_points(staged.write)
        return staged, entries
    raise ConcurrentModification(f"the points of customer {customer_id} keep changing; retry")


def _stage_on_account(
    tenant: TenantId,
    customer_id: str,
    stage: Callable[[AccountChange], StagedChange],
    config: LoyaltyConfig,
    actor: str,
    now: datetime,
    closed_ok: bool = False,
    read_ahead: ReadAhead | None = None,
) -> StagedChange:
    """Read the account (or take it from `read_ahead`), expire what is due, stage a change."""
    account = _account_of(tenant, customer_id, closed_ok, read_ahead)
    change = AccountChange(account, config, now, actor)
    change.expire_due()
    return stage(change)


def _count_points(write: LoyaltyWrite) -> None:
    """Points earned and redeemed by a committed change (the growth of the account's
    lifetime totals: a refund taking points back earns nothing, and is not subtracted)."""
    before, after = write.account_before, write.account_after
    if before is None or after is None:
        return
    count(BusinessMetric.POINTS_EARNED, max(0, after.lifetime_earned - before.lifetime_earned))
    count(BusinessMetric.POINTS_REDEEMED, max(0, after.redeemed - before.redeemed))


def account_write(
    customer_id: str, change: AccountChange, interaction: Interaction | None = None
) -> LoyaltyWrite:
    return LoyaltyWrite(
        customer_id=customer_id,
        interaction=interaction,
        account_before=change.before,
        account_after=change.result(),
        entries=change.entries,
        lots_added=change.opened_lots,
        lots_expired=change.expired_lots,
    )


# Interactions.


def _new_interaction(
    customer_id: str, draft: InteractionDraft, interaction_id: str, now: datetime, points: int
) -> Interaction:
    return Interaction(
        id=interaction_id,
        customer_id=customer_id,
        type=draft.type,
        occurred_at=draft.occurred_at or now,
        recorded_at=now,
        channel=draft.channel,
        location_id=draft.location_id,
        attributes=draft.attributes,
        details=draft.details,
        points=points,
    )


def _capped_tally(
    amount: Decimal, caps: AppPurchasesConfig | None, now: datetime
) -> DailyPurchaseTally | None:
    """The day's tally a purchase recorded with app credentials adds to (None for merchant
    keys); a purchase over either cap on its own is refused before anything is read."""
    if caps is None:
        return None
    for cap, limit in (
        ("max_purchase_amount", caps.max_purchase_amount),
        ("max_daily_purchase_amount", caps.max_daily_purchase_amount),
    ):
        if amount > limit:
            raise PurchaseCapExceeded(
                cap, limit, f"purchases recorded with app credentials are capped at {limit}"
            )
    return DailyPurchaseTally(now.date(), amount, caps.max_daily_purchase_amount)


def _stage_purchase(
    tenant: TenantId,
    customer_id: str,
    draft: InteractionDraft,
    config: LoyaltyConfig,
    now: datetime,
    caps: AppPurchasesConfig | None,
) -> Callable[[AccountChange], StagedChange]:
    from chalicelib.services.offers import boosted_points, purchase_coupon

    interaction_id = new_interaction_id()
    amount = draft.amount or Decimal(0)
    tally = _capped_tally(amount, caps, now)
    code = draft.details.get("coupon_code")
    coupon = (
        purchase_coupon(tenant, str(code), customer_id, draft.order_id or "", now)
        if code is not None
        else None
    )
    if coupon is not None:
        draft = replace(draft, details={**draft.details, "coupon_code": coupon.code})

    def stage(change: AccountChange) -> StagedChange:
        earned = purchase_points(amount, config, change.account.tier)
        earned, offer = boosted_points(tenant, earned, draft.occurred_at or now)
        points = earned + fixed_points(config, draft.type.value)
        reason = f"offer {offer.id}: points x{offer.multiplier}" if offer else None
        change.earn(points, interaction_id, reference=draft.order_id, reason=reason)
        if coupon is not None:
            change.earn(coupon.bonus_points, interaction_id, reference=f"coupon:{coupon.code}")
        change.record_spend(amount, (draft.occurred_at or now).date())
        change.upgrade_tier()
        interaction = _new_interaction(customer_id, draft, interaction_id, now, points)
        write = account_write(customer_id, change, interaction)
        write.purchase_tally = tally
        if coupon is not None and coupon.part is not None:
            write.parts = [coupon.part]
        if draft.order_id is not None:
            write.new_order = Order(
                order_id=draft.order_id,
                customer_id=customer_id,
                interaction_id=interaction_id,
                amount=amount,
                currency=str(draft.details.get("currency")),
                points=points,
                occurred_at=draft.occurred_at or now,
            )
        return StagedChange(write, interaction, change)

    return stage


def _order_to_refund(tenant: TenantId, customer_id: str, order_id: str | None) -> Order:
    order = repository.get_order(tenant, order_id) if order_id else None
    if order is None:
        raise NotFound(f"order {order_id} was not recorded as a purchase")
    if order.customer_id != customer_id:
        raise InvalidInput([FieldIssue("order_id", "the order belongs to another customer")])
    return order


def _stage_refund(
    tenant: TenantId, customer_id: str, draft: InteractionDraft, now: datetime
) -> Callable[[AccountChange], StagedChange]:
    interaction_id = new_interaction_id()
    currency = draft.details.get("currency")

    def stage(change: AccountChange) -> StagedChange:
        order = _order_to_refund(tenant, customer_id, draft.order_id)
        refund = order.check_refund(draft.amount, str(currency) if currency else None)
        due = refund_reversal(order.points, order.amount, order.refunded_amount, refund)
        change.reverse(due, interaction_id, reference=order.order_id)
        change.record_spend(-refund, order.occurred_at.date())
        change.upgrade_tier()
        details = {**draft.details, "amount": str(refund), "currency": order.currency}
        interaction = _new_interaction(
            customer_id, replace(draft, details=details), interaction_id, now, -due
        )
        write = account_write(customer_id, change, interaction)
        write.updated_order = replace(
            order,
            refunded_amount=order.refunded_amount + refund,
            points_reversed=order.points_reversed + due,
        )
        return StagedChange(write, interaction, change)

    return stage


def _stage_fixed(
    customer_id: str, draft: InteractionDraft, points: int, now: datetime
) -> Callable[[AccountChange], StagedChange]:
    interaction_id = new_interaction_id()

    def stage(change: AccountChange) -> StagedChange:
        change.earn(points, interaction_id)
        change.upgrade_tier()
        interaction = _new_interaction(customer_id, draft, interaction_id, now, points)
        return StagedChange(account_write(customer_id, change, interaction), interaction, change)

    return stage


def _prepare(
    tenant: TenantId,
    customer_id: str,
    draft: InteractionDraft,
    now: datetime,
    config: LoyaltyConfig,
    caps: AppPurchasesConfig | None = None,
) -> tuple[InteractionDraft, Callable[[AccountChange], StagedChange] | None]:
    """The draft with its time checked and set, and how it changes the account (None for an
    interaction that moves no points)."""
    occurred_at = draft.occurred_at or now
    check_occurred_at(occurred_at, now)
    draft = replace(draft, occurred_at=occurred_at)
    points = fixed_points(config, draft.type.value)
    if draft.type is InteractionType.PURCHASE:
        return draft, _stage_purchase(tenant, customer_id, draft, config, now, caps)
    if draft.type is InteractionType.REFUND:
        return draft, _stage_refund(tenant, customer_id, draft, now)
    if points:
        return draft, _stage_fixed(customer_id, draft, points, now)
    return draft, None


def _record(
    tenant: TenantId,
    customer_id: str,
    draft: InteractionDraft,
    actor: str,
    now: datetime,
    config: LoyaltyConfig,
    caps: AppPurchasesConfig | None = None,
    read_ahead: ReadAhead | None = None,
) -> tuple[InteractionRecord, bool]:
    """Record one interaction; answers it and whether it was already recorded (an order id
    seen before answers the first purchase and writes nothing). With `caps` (app
    credentials) a purchase is held to the tenant's per-purchase and daily caps."""
    draft, stage = _prepare(tenant, customer_id, draft, now, config, caps)
    if stage is None:
        _require_customer(tenant, customer_id, read_ahead)
        interaction = _new_interaction(customer_id, draft, new_interaction_id(), now, 0)
        repository.put_interaction(tenant, interaction)
        return InteractionRecord.of(interaction), False
    try:
        staged, _ = commit_account_change(
            tenant, customer_id, stage, config, actor, now, read_ahead=read_ahead
        )
    except OrderAlreadyRecorded as duplicate:
        return _first_purchase(tenant, duplicate.order_id), True
    assert staged.interaction is not None
    return InteractionRecord.of(staged.interaction), False


def _first_purchase(tenant: TenantId, order_id: str) -> InteractionRecord:
    order = repository.get_order(tenant, order_id)
    first = repository.get_order_interaction(tenant, order) if order else None
    if first is None:
        raise ConcurrentModification(f"order {order_id} is being recorded; retry")
    return InteractionRecord.of(first)


def record_interaction(
    tenant: TenantId,
    customer_id: str,
    draft: InteractionDraft,
    actor: str,
    idempotency_key: str | None,
    now: datetime | None = None,
    app_credentials: bool = False,
    details_when_recorded: Callable[[], Mapping[str, Any]] | None = None,
) -> InteractionRecord:
    """Record a touchpoint and the points it moves, in one transaction. Purchases recorded
    with `app_credentials` are capped by the tenant's `app_purchases` configuration.
    `details_when_recorded` adds details read only when the interaction is recorded (not
    part of the request an `Idempotency-Key` stands for)."""
    moment = now or utc_now()
    request = idempotent_request(tenant, "interaction", idempotency_key, customer_id, draft)
    config = loyalty_config(tenant)
    capped = app_credentials and draft.type is InteractionType.PURCHASE
    caps = get_tenant_config(tenant).app_purchases if capped else None

    def record() -> InteractionRecord:
        extra = details_when_recorded() if details_when_recorded else {}
        recorded = replace(draft, details={**draft.details, **extra}) if extra else draft
        return _record(tenant, customer_id, recorded, actor, moment, config, caps)[0]

    return run_once(request, _interaction_receipt(tenant), record)


def _replay_interaction(tenant: TenantId, receipt: InteractionReceipt) -> InteractionRecord:
    """The interaction a receipt names, as stored now (after an erasure: anonymised)."""
    found = repository.get_interaction(
        tenant, receipt.customer_id, receipt.occurred_at, receipt.interaction_id
    )
    if found is None:
        raise _not_found(receipt.customer_id)
    return InteractionRecord.of(found)


def _interaction_receipt(tenant: TenantId) -> Receipt[InteractionRecord, InteractionReceipt]:
    return Receipt(
        InteractionReceipt,
        InteractionReceipt.of,
        lambda receipt: _replay_interaction(tenant, receipt),
    )


def _replay_batch(tenant: TenantId, receipt: BatchReceipt) -> BatchResult:
    return BatchResult(
        created=receipt.created,
        duplicates=receipt.duplicates,
        failed=receipt.failed,
        items=[
            BatchItemOutcome(
                index=item.index,
                outcome=item.outcome,
                interaction=_replay_interaction(tenant, item.interaction)
                if item.interaction
                else None,
                error=item.error,
                detail=item.detail,
            )
            for item in receipt.items
        ],
    )


def _resolve_customer(tenant: TenantId, item: BatchItem) -> str:
    if item.customer_id is not None:
        return item.customer_id
    from chalicelib.domain.customers import UniqueField

    found = customer_repository.find_customer_id(
        tenant, UniqueField.EXTERNAL_ID, item.external_id or ""
    )
    if found is None:
        raise NotFound("no customer has the external_id given")
    return found


BATCH_WORKERS = 8


def _failed(index: int, error: DomainError) -> BatchItemOutcome:
    return BatchItemOutcome(
        index=index, outcome="failed", error=type(error).__name__, detail=error.detail
    )


def _batch_item(
    tenant: TenantId,
    index: int,
    item: BatchItem | DomainError,
    actor: str,
    now: datetime,
    config: LoyaltyConfig,
    read_ahead: ReadAhead | None,
) -> BatchItemOutcome:
    try:
        if isinstance(item, DomainError):
            raise item
        customer_id = _resolve_customer(tenant, item)
        record, duplicate = _record(
            tenant, customer_id, item.draft, actor, now, config, read_ahead=read_ahead
        )
    except DomainError as error:
        return _failed(index, error)
    outcome = "duplicate" if duplicate else "created"
    return BatchItemOutcome(index=index, outcome=outcome, interaction=record)


def _moves_no_points(item: BatchItem | DomainError, config: LoyaltyConfig) -> bool:
    return (
        isinstance(item, BatchItem)
        and item.draft.type not in (InteractionType.PURCHASE, InteractionType.REFUND)
        and not fixed_points(config, item.draft.type.value)
    )


def _record_plain(
    tenant: TenantId, positions: list[int], items: Sequence[BatchItem | DomainError], now: datetime
) -> dict[int, BatchItemOutcome]:
    """Items that move no points, of customers read ahead: written together (BatchWriteItem)
    instead of a PutItem each. Their order among a customer's other items does not matter:
    they neither read nor change the account."""
    outcomes: dict[int, BatchItemOutcome] = {}
    written: list[tuple[int, Interaction]] = []
    for index in positions:
        item = items[index]
        assert isinstance(item, BatchItem) and item.customer_id is not None
        try:
            check_occurred_at(item.draft.occurred_at or now, now)
        except DomainError as error:
            outcomes[index] = _failed(index, error)
            continue
        draft = replace(item.draft, occurred_at=item.draft.occurred_at or now)
        interaction = _new_interaction(item.customer_id, draft, new_interaction_id(), now, 0)
        written.append((index, interaction))
    repository.put_interactions(tenant, [interaction for _, interaction in written])
    for index, interaction in written:
        outcomes[index] = BatchItemOutcome(
            index=index, outcome="created", interaction=InteractionRecord.of(interaction)
        )
    return outcomes


def _by_customer(items: Sequence[BatchItem | DomainError]) -> list[list[int]]:
    """Item positions grouped by the customer they name, in the order sent."""
    groups: dict[object, list[int]] = {}
    for index, item in enumerate(items):
        who: object = (item.customer_id, item.external_id) if isinstance(item, BatchItem) else index
        groups.setdefault(who, []).append(index)
    return list(groups.values())


def _record_turn(
    tenant: TenantId,
    positions: list[int],
    items: Sequence[BatchItem | DomainError],
    actor: str,
    now: datetime,
    config: LoyaltyConfig,
    accounts: dict[str, PointsAccount],
) -> dict[int, BatchItemOutcome]:
    """One item each of distinct customers. Those that move the points of a customer whose
    account is known (`accounts`: read ahead, or as the previous turn stored it) are staged
    on it and committed together, with the conditions of single writes; the others, and
    those not committed, are recorded one at a time as a single request would be, and
    their customers' accounts are no longer known."""
    outcomes: dict[int, BatchItemOutcome] = {}
    staged: list[tuple[int, StagedChange]] = []
    alone: list[int] = []
    known = ReadAhead(frozenset(accounts), accounts)
    for index in positions:
        item = items[index]
        if not (isinstance(item, BatchItem) and item.customer_id in accounts):
            alone.append(index)
            continue
        customer_id = item.customer_id
        try:
            _, stage = _prepare(tenant, customer_id, item.draft, now, config)
            assert stage is not None, "items that move no points were written before"
            staged.append(
                (
                    index,
                    _stage_on_account(tenant, customer_id, stage, config, actor, now, False, known),
                )
            )
        except DomainError as error:
            outcomes[index] = _failed(index, error)
    committed = repository.commit_together(tenant, [change.write for _, change in staged])
    for (index, change), done in zip(staged, committed, strict=True):
        if not done:
            accounts.pop(change.write.customer_id)
            alone.append(index)
            continue
        _count_points(change.write)
        accounts[change.write.customer_id] = repository.stored_account(tenant, change.write)
        assert change.interaction is not None
        outcomes[index] = BatchItemOutcome(
            index=index, outcome="created", interaction=InteractionRecord.of(change.interaction)
        )
    recorded = run_all(
        [
            partial(_batch_item, tenant, index, items[index], actor, now, config, None)
            for index in alone
        ],
        BATCH_WORKERS,
    )
    outcomes.update(zip(alone, recorded, strict=True))
    return outcomes


def _record_in_turns(
    tenant: TenantId,
    groups: list[list[int]],
    items: Sequence[BatchItem | DomainError],
    actor: str,
    now: datetime,
    config: LoyaltyConfig,
    accounts: dict[str, PointsAccount],
) -> dict[int, BatchItemOutcome]:
    """Each turn takes the next item of every customer (`groups`: each customer's items in
    the order sent)."""
    outcomes: dict[int, BatchItemOutcome] = {}
    queues = [deque(group) for group in groups]
    while queues := [queue for queue in queues if queue]:
        turn = [queue.popleft() for queue in queues]
        outcomes.update(_record_turn(tenant, turn, items, actor, now, config, accounts))
    return outcomes


def _batch(
    tenant: TenantId,
    items: Sequence[BatchItem | DomainError],
    actor: str,
    now: datetime,
    config: LoyaltyConfig,
) -> BatchResult:
    """The customers named by id, and their accounts, are read ahead, and the items that
    move no points written together. The rest go in turns: each turn takes the next
    item of every customer (one customer's items in the order sent, each staged on the
    account the previous one stored) and commits those of distinct customers together."""
    read_ahead = _read_ahead(
        tenant, {i.customer_id for i in items if isinstance(i, BatchItem) and i.customer_id}
    )
    plain = [
        index
        for index, item in enumerate(items)
        if _moves_no_points(item, config)
        and isinstance(item, BatchItem)
        and item.customer_id is not None
        and read_ahead.knows(item.customer_id)
    ]
    accounts = {
        customer_id: read_ahead.accounts.get(customer_id, PointsAccount())
        for customer_id in read_ahead.customers
    }
    written_together = set(plain)
    groups = [
        [index for index in group if index not in written_together] for group in _by_customer(items)
    ]
    outcomes = _record_plain(tenant, plain, items, now)
    outcomes |= _record_in_turns(tenant, groups, items, actor, now, config, accounts)
    ordered = [outcomes[index] for index in range(len(items))]
    return BatchResult(
        created=sum(1 for o in ordered if o.outcome == "created"),
        duplicates=sum(1 for o in ordered if o.outcome == "duplicate"),
        failed=sum(1 for o in ordered if o.outcome == "failed"),
        items=ordered,
    )


def record_batch(
    tenant: TenantId,
    items: Sequence[BatchItem | DomainError],
    actor: str,
    idempotency_key: str | None,
    max_items: int,
    now: datetime | None = None,
) -> BatchResult:
    """Record up to `max_items` (the plan's batch size) interactions; each item succeeds or
    fails on its own."""
    if len(items) > max_items:
        raise InvalidInput([FieldIssue("items", f"at most {max_items} items per batch")])
    moment = now or utc_now()
    fingerprint = [i if isinstance(i, BatchItem) else repr(vars(i)) for i in items]
    request = idempotent_request(tenant, "interactions:batch", idempotency_key, fingerprint)
    config = loyalty_config(tenant)
    receipt = Receipt(BatchReceipt, BatchReceipt.of, lambda stored: _replay_batch(tenant, stored))
    return run_once(request, receipt, lambda: _batch(tenant, items, actor, moment, config))


def list_timeline(
    tenant: TenantId,
    customer_id: str,
    window: Window,
    page: PageRequest,
    staff_view: bool,
) -> Page[TimelineEntry]:
    """The customer's interactions, ticket events and campaign messages, newest first.
    Without `staff_view` (a customer token) staff-only ticket notes and campaign messages
    not sent are left out (such a page may hold fewer than `limit` entries)."""
    _require_customer(tenant, customer_id)
    found = timeline_repository.list_timeline(tenant, customer_id, window, page)
    entries = (
        found.items
        if staff_view
        else [entry.for_customer() for entry in found.items if entry.shown_to_customer()]
    )
    return Page(entries, found.next_cursor)


# Points.


def _movement(
    tenant: TenantId,
    operation: str,
    customer_id: str,
    points: int,
    reason: str,
    reference: str | None,
    actor: str,
    idempotency_key: str | None,
    now: datetime | None,
    apply: Callable[[AccountChange], None],
) -> PointsMovement:
    """One points change made once per Idempotency-Key, in one account transaction."""
    moment = now or utc_now()
    request = idempotent_request(
        tenant, operation, idempotency_key, customer_id, points, reason, reference
    )

    def commit() -> PointsMovement:
        config = loyalty_config(tenant)

        def stage(change: AccountChange) -> StagedChange:
            apply(change)
            return StagedChange(account_write(customer_id, change), None, change)

        staged, entries = commit_account_change(tenant, customer_id, stage, config, actor, moment)
        return PointsMovement(
            balance=staged.change.available(),
            entries=[LedgerEntryRecord.of(e) for e in entries],
        )

    def replay(stored: MovementReceipt) -> PointsMovement:
        entries = repository.get_ledger_entries(tenant, customer_id, stored.entries)
        return PointsMovement(
            balance=stored.balance, entries=[LedgerEntryRecord.of(e) for e in entries]
        )

    receipt = Receipt(
        MovementReceipt,
        lambda movement: MovementReceipt(
            balance=movement.balance,
            entries=[entry.id for entry in movement.entries],
        ),
        replay,
    )
    return run_once(request, receipt, commit)


def redeem_points(
    tenant: TenantId,
    customer_id: str,
    points: int,
    reason: str,
    reference: str | None,
    actor: str,
    idempotency_key: str | None,
    now: datetime | None = None,
) -> PointsMovement:
    """Spend points from the lots that expire first; InsufficientPoints when short."""
    return _movement(
        tenant,
        "points:redeem",
        customer_id,
        points,
        reason,
        reference,
        actor,
        idempotency_key,
        now,
        lambda change: change.redeem(points, reason, reference),
    )


def adjust_points(
    tenant: TenantId,
    customer_id: str,
    points: int,
    reason: str,
    reference: str | None,
    actor: str,
    idempotency_key: str | None,
    now: datetime | None = None,
) -> PointsMovement:
    """A signed manual correction, recorded as an `adjust` entry."""
    return _movement(
        tenant,
        "points:adjust",
        customer_id,
        points,
        reason,
        reference,
        actor,
        idempotency_key,
        now,
        lambda change: change.adjust(points, reason, reference),
    )


def points_summary(
    tenant: TenantId, customer_id: str, now: datetime | None = None
) -> PointsSummary:
    """Balance as of now (lots past their date no longer count), expiring soon, tier."""
    today = (now or utc_now()).date()
    config = loyalty_config(tenant)
    account = _account_of(tenant, customer_id)
    reached = standing(account, config, today)
    upcoming = next_tier(config, reached)
    return PointsSummary(
        balance=account.available(today),
        lifetime_earned=account.lifetime_earned,
        expiring=[ExpiringPoints(expires_on=d, points=p) for d, p in account.expiring(today)],
        tier=account.tier or config.tiers[0].name,
        next_tier=(
            NextTier(
                name=upcoming[0].name,
                threshold=str(upcoming[0].threshold),
                missing=str(upcoming[1]),
            )
            if upcoming
            else None
        ),
        clawback_pending=account.clawback_pending,
    )


def list_transactions(
    tenant: TenantId, customer_id: str, page: PageRequest
) -> Page[LedgerEntryRecord]:
    _account_of(tenant, customer_id)
    found = repository.list_ledger(tenant, customer_id, page)
    return Page([LedgerEntryRecord.of(e) for e in found.items], found.next_cursor)
