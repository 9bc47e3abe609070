"""Merging customers (issue 16): `POST /v1/customers/{id}/merge`.

The merge record is written first, with the profile change (survivor's fields and claims,
sources' profiles gone, sources' points accounts closed) in one transaction; from then on
the sources are frozen (a write answers 409 naming the merge, a read 301 to the
survivor). Then each source's partition moves to the survivor in steps of at most
STEP_ITEMS items (chalicelib.dal.merge), and last its points join the survivor's account.
The request runs steps for at most its budget (the MERGE_REQUEST_BUDGET_SECONDS setting,
10 s by default); a merge not done by then is handed to the merge queue
(chalicelib/streams/merge_queue.py), whose consumer runs further shares of
CONTINUATION_BUDGET until it is done. Every share resumes from the record's stored step
count: a request that fails part-way leaves the record `moving`, and repeating it (or any
request naming the same survivor and sources, or a redelivered continuation) resumes where
the last step stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib.dal import customers as customer_repository
from chalicelib.dal import merge as repository
from chalicelib.dal.loyalty import LoyaltyWrite
from chalicelib.domain.audit import Writer
from chalicelib.domain.clock import utc_now
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import (
    ConcurrentModification,
    FieldIssue,
    InvalidInput,
    MergeConflict,
    MergedAway,
    MergedSourceFrozen,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    UnmergeRefused,
)
from chalicelib.domain.ids import is_customer_id, is_merge_id, new_merge_id
from chalicelib.domain.loyalty import EntryType, LedgerEntry, PointsAccount
from chalicelib.domain.merge import (
    CONTINUATION_BUDGET,
    MAX_SOURCES,
    UNMERGE_WINDOW,
    MergeRecord,
    MergeState,
    merged_account,
    split_account,
    surviving_profile,
    within_unmerge_window,
)
from chalicelib.domain.tenancy import TenantId
from chalicelib.services.loyalty import loyalty_config
from chalicelib.settings import get_settings

ATTEMPTS = 20
MERGE_ACTION = "merge_customers"
ContinueLater = Callable[[TenantId, MergeRecord], None]


def _sources_issue(message: str) -> InvalidInput:
    return InvalidInput([FieldIssue("from", message)])


def _checked_sources(survivor_id: str, source_ids: list[str]) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(source_ids))
    if not unique:
        raise _sources_issue("name at least one customer to merge")
    if len(unique) > MAX_SOURCES:
        raise _sources_issue(f"at most {MAX_SOURCES} customers merge at once")
    if survivor_id in unique:
        raise _sources_issue("a customer cannot be merged into itself")
    return unique


def _missing(tenant: TenantId, customer_id: str, writing: bool) -> Exception:
    """NotFound, or the merge that took the customer away."""
    merged = (
        repository.get_merged_into(tenant, customer_id) if is_customer_id(customer_id) else None
    )
    if merged is None:
        return NotFound(f"customer {customer_id} does not exist")
    kind = MergedSourceFrozen if writing else MergedAway
    return kind(customer_id, merged.merged_into, merged.merge_id)


def redirect_if_merged(tenant: TenantId, customer_id: str, writing: bool) -> Exception | None:
    """For a route under /v1/customers/{id} that found no customer: the merge that took it
    away (MergedAway for a read, MergedSourceFrozen for a write), None if never merged."""
    error = _missing(tenant, customer_id, writing)
    return None if isinstance(error, NotFound) else error


def _resumable(
    tenant: TenantId, survivor_id: str, source_ids: tuple[str, ...]
) -> MergeRecord | None:
    """The unfinished merge of exactly these customers, when every source is marked as
    merged into the survivor by one merge."""
    markers = [repository.get_merged_into(tenant, source_id) for source_id in source_ids]
    if any(marker is None for marker in markers):
        return None
    merge_ids = {marker.merge_id for marker in markers if marker is not None}
    if len(merge_ids) != 1:
        return None
    record = repository.get_merge(tenant, survivor_id, merge_ids.pop())
    if record is None or set(record.source_ids) != set(source_ids):
        return None
    return record


def merge_customers(
    tenant: TenantId,
    survivor_id: str,
    source_ids: list[str],
    expected_version: int | None,
    actor: str,
    continue_later: ContinueLater | None = None,
) -> MergeRecord:
    """Merge the sources into the survivor (see the module docstring); answers the record:
    `done`, or `moving` when the rest was handed to `continue_later` after the request's
    budget. Repeating a merge that stopped part-way resumes it; repeating a finished one
    answers its record."""
    sources_named = _checked_sources(survivor_id, source_ids)
    if not is_customer_id(survivor_id):
        raise NotFound(f"customer {survivor_id} does not exist")
    resumed = _resumable(tenant, survivor_id, sources_named)
    if resumed is not None:
        if resumed.state is MergeState.DONE:
            return resumed
        return _run_share(tenant, resumed, _request_budget(), continue_later)
    survivor = customer_repository.get_customer(tenant, survivor_id)
    if survivor is None:
        raise _missing(tenant, survivor_id, writing=True)
    sources = [_source(tenant, source_id) for source_id in sources_named]
    if expected_version is None:
        raise PreconditionRequired("send If-Match with the survivor's ETag")
    if survivor.version != expected_version:
        raise PreconditionFailed("the survivor changed since it was read")
    for source in sources:
        unmovable = repository.unmovable_entities(tenant, source.id)
        if unmovable:
            raise MergeConflict(
                f"customer {source.id} holds {', '.join(sorted(unmovable))}, which a merge "
                "cannot move"
            )
    now = utc_now()
    record = MergeRecord(
        id=new_merge_id(),
        survivor_id=survivor.id,
        source_ids=sources_named,
        state=MergeState.MOVING,
        started_at=now,
        started_by=actor,
    )
    accounts = {s.id: repository.get_account_item(tenant, s.id) for s in sources}
    merged = surviving_profile(survivor, sources, now)
    try:
        repository.start_merge(tenant, record, survivor, merged, sources, accounts, now)
    except ConcurrentModification as error:
        raise PreconditionFailed(
            "the survivor or a source changed since it was read; read them again"
        ) from error
    return _run_share(tenant, record, _request_budget(), continue_later)


def _request_budget() -> timedelta:
    """How long a request moves items (MERGE_REQUEST_BUDGET_SECONDS, chalicelib/settings.py)."""
    return timedelta(seconds=get_settings().merge_request_budget_seconds)


def _run_share(
    tenant: TenantId,
    record: MergeRecord,
    budget: timedelta,
    continue_later: ContinueLater | None,
) -> MergeRecord:
    """Steps for `budget`; a merge not done then goes on through `continue_later` (by
    default a message on the merge queue, whose module loads only then)."""
    current = run_merge(tenant, record, time.monotonic() + budget.total_seconds())
    if current.state is not MergeState.DONE:
        if continue_later is None:
            from chalicelib.streams import merge_queue

            continue_later = merge_queue.send_continuation
        continue_later(tenant, current)
    return current


def get_merge(tenant: TenantId, survivor_id: str, merge_id: str) -> MergeRecord:
    """The merge record (its state and steps so far), in the survivor's partition."""
    known = is_customer_id(survivor_id) and is_merge_id(merge_id)
    record = repository.get_merge(tenant, survivor_id, merge_id) if known else None
    if record is None:
        raise NotFound(f"merge {merge_id} of customer {survivor_id} does not exist")
    return record


def continue_merge(
    tenant: TenantId,
    survivor_id: str,
    merge_id: str,
    continue_later: ContinueLater | None = None,
) -> MergeRecord | None:
    """The merge queue's entry: another share of the merge's steps, written (and so
    audited) as the key that started it. Resumes from the stored step count; a merge
    already done (a redelivered message) or gone changes nothing."""
    from chalicelib.dal.attribution import writing_as

    record = repository.get_merge(tenant, survivor_id, merge_id)
    if record is None or record.state is MergeState.DONE:
        return record
    writer = Writer(record.started_by, "system", merge_id, MERGE_ACTION)
    with writing_as(writer):
        return _run_share(tenant, record, CONTINUATION_BUDGET, continue_later)


def _source(tenant: TenantId, source_id: str) -> Customer:
    source = (
        customer_repository.get_customer(tenant, source_id) if is_customer_id(source_id) else None
    )
    if source is not None:
        return source
    merged = repository.get_merged_into(tenant, source_id) if is_customer_id(source_id) else None
    if merged is not None:
        raise MergeConflict(
            f"customer {source_id} is already merged into {merged.merged_into}", merged.merge_id
        )
    raise NotFound(f"customer {source_id} does not exist")


def run_merge(tenant: TenantId, record: MergeRecord, until: float | None = None) -> MergeRecord:
    """Move every source's items, then its points; finish the record. Resumable. With
    `until` (a time.monotonic() value) it stops after the step that passes it (at least one
    step runs) and answers the record still `moving`."""
    current = record
    for source_id in record.source_ids:
        current, finished = _move_items(tenant, current, source_id, until)
        if not finished:
            return current
        _move_points(tenant, current, source_id)
    return repository.finish_merge(tenant, current, utc_now())


def _move_items(
    tenant: TenantId, record: MergeRecord, source_id: str, until: float | None
) -> tuple[MergeRecord, bool]:
    """The source's items moved step by step; answers the record and whether none is left
    (False: `until` passed first)."""
    current = record
    conflicts = 0
    while True:
        if until is not None and current.steps > record.steps and time.monotonic() >= until:
            return current, False
        try:
            moved = repository.move_step(tenant, current, source_id)
        except ConcurrentModification:
            conflicts += 1
            if conflicts >= ATTEMPTS:
                raise
            fresh = repository.get_merge(tenant, record.survivor_id, record.id)
            if fresh is None:
                raise
            current = fresh
            continue
        if moved == 0:
            return current, True
        current = replace(current, steps=current.steps + 1, items_moved=current.items_moved + moved)


def _move_points(tenant: TenantId, record: MergeRecord, source_id: str) -> None:
    """The source's account joins the survivor's under both versions read; a concurrent
    points write on the survivor makes it read again (nothing is lost or counted twice)."""
    config = loyalty_config(tenant)
    for _ in range(ATTEMPTS):
        marker = repository.get_merged_into(tenant, source_id)
        if marker is None or marker.account_moved:
            return
        source_account = repository.get_account_item(tenant, source_id) or PointsAccount()
        survivor_account = repository.get_account_item(tenant, record.survivor_id)
        before = survivor_account or PointsAccount()
        now = utc_now()
        after = merged_account(
            before, [replace(source_account, closed_at=None)], config, now.date()
        )
        after = replace(after, tier=after.tier or config.tiers[0].name)
        entry = _merge_entry(after, source_id, record, now)
        write = LoyaltyWrite(
            customer_id=record.survivor_id,
            account_before=before,
            account_after=after,
            entries=[entry],
        )
        try:
            repository.merge_accounts(tenant, record, source_id, write, source_account)
        except ConcurrentModification:
            continue
        return
    raise ConcurrentModification("the points kept changing during the merge; repeat the request")


def _merge_entry(
    account: PointsAccount, source_id: str, record: MergeRecord, now: datetime
) -> LedgerEntry:
    """The ledger line naming the merge (0 points: the source's own entries moved with it)."""
    return LedgerEntry(
        type=EntryType.ADJUST,
        points=0,
        balance_after=account.available(now.date()),
        at=now,
        actor=record.started_by,
        reference=record.id,
        reason=f"merged from {source_id}",
        tier=account.tier,
    )


def unmerge_customer(tenant: TenantId, survivor_id: str, source_id: str, actor: str) -> Customer:
    """Undo the merge of `source_id` into `survivor_id` within UNMERGE_WINDOW: the source's
    points go back first (split_account: refused with 409 when the survivor holds fewer
    points than the source brought), then every item the merge moved and that is still at
    the survivor (by the step logs), then its profile and unique values. Items written to
    the survivor since the merge, and the tags, attributes and non-unique fields it took,
    stay with the survivor. Resumable: sending the request again continues. Answers the
    restored source."""
    marker = repository.get_merged_into(tenant, source_id) if is_customer_id(source_id) else None
    if marker is None or marker.merged_into != survivor_id:
        raise NotFound(f"customer {source_id} is not merged into {survivor_id}")
    record = repository.get_merge(tenant, survivor_id, marker.merge_id)
    if record is None or not marker.account_moved:
        raise MergeConflict("the merge has not finished; send the merge request again first")
    held = repository.get_marker_profile_and_account(tenant, source_id)
    if held is None:
        raise NotFound(f"customer {source_id} is not merged into {survivor_id}")
    source, brought, unmerging = held
    now = utc_now()
    if not unmerging:
        if not within_unmerge_window(marker.merged_at, now):
            raise UnmergeRefused(
                f"the merge was {(now - marker.merged_at).days} days ago; "
                f"an unmerge is possible within {UNMERGE_WINDOW.days} days"
            )
        _split_points(tenant, survivor_id, source_id, brought or PointsAccount(), actor)
    _move_back(tenant, record.id, survivor_id, source_id)
    return _restore_profile(tenant, survivor_id, source)


def _move_back(tenant: TenantId, merge_id: str, survivor_id: str, source_id: str) -> None:
    """Every step log's items back to the source; a step that met a concurrent change (a
    ticket updated meanwhile) is read and tried again."""
    conflicts = 0
    while True:
        try:
            if not repository.move_back_step(tenant, merge_id, survivor_id, source_id):
                return
        except ConcurrentModification:
            conflicts += 1
            if conflicts >= ATTEMPTS:
                raise


def _split_points(
    tenant: TenantId, survivor_id: str, source_id: str, brought: PointsAccount, actor: str
) -> None:
    config = loyalty_config(tenant)
    for _ in range(ATTEMPTS):
        current = repository.get_account_item(tenant, survivor_id) or PointsAccount()
        now = utc_now()
        split = split_account(current, brought, config, now.date())
        entry = LedgerEntry(
            type=EntryType.ADJUST,
            points=0,
            balance_after=split.survivor.available(now.date()),
            at=now,
            actor=actor,
            reason=f"unmerged {source_id}",
            tier=split.survivor.tier,
        )
        write = LoyaltyWrite(
            customer_id=survivor_id,
            account_before=current,
            account_after=split.survivor,
            entries=[entry],
        )
        try:
            repository.begin_unmerge(tenant, source_id, write, split.source)
        except ConcurrentModification:
            continue
        return
    raise ConcurrentModification("the points kept changing during the unmerge; repeat it")


def _restore_profile(tenant: TenantId, survivor_id: str, source: Customer) -> Customer:
    for _ in range(ATTEMPTS):
        survivor = customer_repository.get_customer(tenant, survivor_id)
        if survivor is None:
            raise NotFound(f"customer {survivor_id} does not exist")
        giving_back = {
            field.value: None
            for field, value in source.unique_values().items()
            if survivor.unique_values().get(field) == value
        }
        after = replace(survivor, **giving_back, updated_at=utc_now())  # type: ignore[arg-type]
        try:
            repository.finish_unmerge(tenant, survivor, after, source)
        except ConcurrentModification:
            continue
        return replace(source, version=1)
    raise ConcurrentModification("the survivor kept changing during the unmerge; repeat it")
