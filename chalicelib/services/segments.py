"""Segments: keeping one customer's metrics and memberships current, the custom
definitions and their back-fill, and the reads behind the segment routes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from chalicelib.dal import analytics as analytics_repository
from chalicelib.dal import control
from chalicelib.dal import customers as customer_repository
from chalicelib.dal import segments as repository
from chalicelib.dal.transactions import LabelledTransaction
from chalicelib.domain import analytics
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import (
    ConcurrentModification,
    FieldIssue,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from chalicelib.domain.ids import new_segment_id
from chalicelib.domain.metrics import CustomerFacts, fold_metrics
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.segments import (
    BUILT_IN_SEGMENTS,
    MAX_CUSTOM_SEGMENTS,
    Backfill,
    BackfillStatus,
    RuleNode,
    SegmentDefinition,
    SegmentState,
    check_references,
    memberships,
    parse_rule,
)
from chalicelib.domain.tenancy import TenantId, TenantStatus
from chalicelib.domain.tenant_config import TenantConfig
from chalicelib.observability import logger
from chalicelib.services import customers
from chalicelib.services.tenant_config import get_tenant_config

MAX_REFRESH_ATTEMPTS = 5
# Counter items one refresh transaction may update; the rest of its 100 items are the state,
# membership changes and events.
MAX_COUNTER_UPDATES_PER_TRANSACTION = 40
BACKFILL_PAGE = 100


@dataclass(frozen=True)
class TenantRules:
    """What evaluating a tenant's customers needs besides the customer: read once per
    batch (stream), run (daily job) or page (back-fill)."""

    config: TenantConfig
    custom: Mapping[str, RuleNode]
    live: bool = True
    broken: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ParsedRules:
    usable: dict[str, RuleNode]
    broken: frozenset[str]


def parse_definitions(tenant: TenantId, definitions: list[SegmentDefinition]) -> ParsedRules:
    """The live definitions' rules, each parsed on its own. A stored rule that no longer
    parses (a NaN value stored before numbers were checked, say) is reported in the log
    and set aside as broken instead of failing the tenant's other segments."""
    usable: dict[str, RuleNode] = {}
    broken: set[str] = set()
    for definition in definitions:
        if definition.deleting:
            continue
        try:
            usable[definition.id] = definition.rule
        except InvalidInput as error:
            broken.add(definition.id)
            logger.error(
                "stored segment rule cannot be evaluated; its memberships are kept as they are",
                tenant=tenant,
                segment_id=definition.id,
                rule_fields=[issue.field for issue in error.issues],
            )
    return ParsedRules(usable, frozenset(broken))


def tenant_rules(tenant: TenantId) -> TenantRules:
    """The tenant's configuration and custom rules; `live` is False for a deleted tenant,
    whose purge must not race with writes recreating its segment items. Segments whose
    stored rule cannot be evaluated are `broken`: evaluation keeps each customer in or
    out of them as it was (no entries, no exits) until the rule is replaced."""
    record = control.get_tenant(tenant)
    if record is None or record.status is TenantStatus.DELETED:
        return TenantRules(TenantConfig(), {}, live=False)
    parsed = parse_definitions(tenant, repository.list_definitions(tenant))
    return TenantRules(get_tenant_config(tenant), parsed.usable, broken=parsed.broken)


def evaluate(
    facts: CustomerFacts,
    rules: TenantRules,
    today: date,
    before: SegmentState | None = None,
) -> SegmentState:
    """Metrics and memberships from scratch: what the stream keeps incrementally must
    always equal this (the acceptance test compares the two). Memberships of broken
    segments are taken from `before`."""
    metrics, metrics_change = fold_metrics(facts, today)
    kept = rules.broken & before.segments if before is not None else frozenset()
    membership = memberships(
        facts, metrics, metrics_change, rules.config, rules.custom, today, kept
    )
    return SegmentState(metrics, membership.segments, membership.rfm, membership.next_change)


def _same(before: SegmentState | None, after: SegmentState | None) -> bool:
    if before is None or after is None:
        return before is after
    return replace(before, version=0) == replace(after, version=0)


@dataclass(frozen=True)
class SegmentChange:
    customer_id: str
    entered: frozenset[str]
    exited: frozenset[str]


EventWriter = Callable[[TenantId, SegmentChange, datetime], Callable[[LabelledTransaction], None]]


def refresh_customer(
    tenant: TenantId,
    customer_id: str,
    rules: TenantRules,
    today: date,
    now: datetime | None = None,
    events: EventWriter | None = None,
) -> SegmentChange | None:
    """Bring one customer's metrics and memberships up to date with its partition.

    Idempotent and order-free: it recomputes from the customer's current items (never
    from the stream record), writes nothing when nothing changed, and commits under the
    state item's version, so redelivered, reordered or concurrent runs converge."""
    moment = now or utc_now()
    if not rules.live:
        return None
    for _ in range(MAX_REFRESH_ATTEMPTS):
        facts, before, stored = repository.load_customer_for_refresh(tenant, customer_id)
        after = evaluate(facts, rules, today, before) if facts is not None else None
        contribution = analytics.contribution_of(
            facts,
            after.metrics if after else None,
            after.segments if after else (),
            stored.contribution,
        )
        deltas = analytics.contribution_delta(stored.contribution, contribution)
        if _same(before, after) and contribution.as_json() == stored.contribution.as_json():
            return None
        old = before.segments if before else frozenset()
        new = after.segments if after else frozenset()
        change = SegmentChange(customer_id, new - old, old - new)
        try:
            stored, deltas = _commit_large_analytics_parts(
                tenant, customer_id, stored, contribution, deltas, moment
            )
            writes = [
                analytics_repository.contribution_writes(
                    tenant, customer_id, stored, contribution, deltas, moment
                )
            ]
            if events and (change.entered or change.exited):
                writes.append(events(tenant, change, moment))
            repository.save_state(
                tenant, customer_id, before, after, today, moment, _all_of(writes)
            )
        except ConcurrentModification:
            continue
        return change
    raise ConcurrentModification(f"customer {customer_id}'s segments kept changing")


def _all_of(
    writes: list[Callable[[LabelledTransaction], None]],
) -> Callable[[LabelledTransaction], None]:
    def write(transaction: LabelledTransaction) -> None:
        for one in writes:
            one(transaction)

    return write


def _commit_large_analytics_parts(
    tenant: TenantId,
    customer_id: str,
    stored: analytics_repository.StoredContribution,
    target: analytics.Contribution,
    deltas: list[analytics.CounterDelta],
    moment: datetime,
) -> tuple[analytics_repository.StoredContribution, list[analytics.CounterDelta]]:
    """A transaction holds at most 100 items. When a refresh moves more counter items than
    fit beside the state and memberships (a customer's first refresh over a long, back-dated
    history), the excess is committed first, in parts, each with the contribution that
    reflects exactly what was applied (so a crash between parts loses and repeats nothing).
    Points bookings and gauges always ride in the final transaction. Returns the stored
    contribution after the parts and the deltas left for the final transaction."""
    early = [d for d in deltas if not analytics.carries_points(d)]
    final = [d for d in deltas if analytics.carries_points(d)]
    while len(early) + len(final) > MAX_COUNTER_UPDATES_PER_TRANSACTION:
        part, early = (
            early[:MAX_COUNTER_UPDATES_PER_TRANSACTION],
            early[MAX_COUNTER_UPDATES_PER_TRANSACTION:],
        )
        partial = analytics.partly_applied(stored.contribution, target, part)
        stored = analytics_repository.commit_part(
            tenant, customer_id, stored, partial, part, moment
        )
    return stored, early + final


# Reads.


@dataclass(frozen=True)
class SegmentSummary:
    id: str
    kind: str
    name: str
    description: str | None
    members: int
    rule: dict[str, object] | None = None
    backfill: Backfill | None = None
    version: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


def _custom_summary(definition: SegmentDefinition, counts: Mapping[str, int]) -> SegmentSummary:
    return SegmentSummary(
        id=definition.id,
        kind="custom",
        name=definition.name,
        description=definition.description,
        members=counts.get(definition.id, 0),
        rule=definition.rule_document,
        backfill=definition.backfill,
        version=definition.version,
        created_at=definition.created_at,
        updated_at=definition.updated_at,
    )


def list_segments(tenant: TenantId) -> list[SegmentSummary]:
    counts = repository.member_counts(tenant)
    built_in = [
        SegmentSummary(segment_id, "built_in", segment_id, description, counts.get(segment_id, 0))
        for segment_id, description in BUILT_IN_SEGMENTS.items()
    ]
    custom = [
        _custom_summary(definition, counts)
        for definition in sorted(repository.list_definitions(tenant), key=lambda d: d.created_at)
        if not definition.deleting
    ]
    return built_in + custom


def _live_definition(tenant: TenantId, segment_id: str) -> SegmentDefinition:
    definition = repository.get_definition(tenant, segment_id)
    if definition is None or definition.deleting:
        raise NotFound(f"segment {segment_id} does not exist")
    return definition


def get_segment(tenant: TenantId, segment_id: str) -> SegmentSummary:
    counts = repository.member_counts(tenant)
    if segment_id in BUILT_IN_SEGMENTS:
        description = BUILT_IN_SEGMENTS[segment_id]
        return SegmentSummary(
            segment_id, "built_in", segment_id, description, counts.get(segment_id, 0)
        )
    return _custom_summary(_live_definition(tenant, segment_id), counts)


def list_members(tenant: TenantId, segment_id: str, page: PageRequest) -> Page[str]:
    if segment_id not in BUILT_IN_SEGMENTS:
        _live_definition(tenant, segment_id)
    return repository.list_members(tenant, segment_id, page)


def customer_segments(tenant: TenantId, customer_id: str) -> SegmentState | None:
    """The customer's memberships as the stream last computed them (None: not yet)."""
    customers.get_customer(tenant, customer_id)
    return repository.get_state(tenant, customer_id, consistent=False)


# Custom definitions.


def _checked_rule(tenant: TenantId, segment_id: str, document: dict[str, object]) -> RuleNode:
    rule = parse_rule(document)
    others = [d for d in repository.list_definitions(tenant) if d.id != segment_id]
    parsed = parse_definitions(tenant, others)
    # A broken segment exists (it may be referred to) but its own references are unknown.
    existing = {**dict.fromkeys(parsed.broken, RuleNode("any")), **parsed.usable}
    check_references(segment_id, rule, existing)
    return rule


def create_segment(
    tenant: TenantId, name: str, description: str | None, rule: dict[str, object]
) -> SegmentSummary:
    existing = [d for d in repository.list_definitions(tenant) if not d.deleting]
    if len(existing) >= MAX_CUSTOM_SEGMENTS:
        raise InvalidInput(
            [FieldIssue("name", f"a tenant may define at most {MAX_CUSTOM_SEGMENTS} segments")]
        )
    segment_id = new_segment_id()
    _checked_rule(tenant, segment_id, rule)
    now = utc_now()
    definition = SegmentDefinition(
        id=segment_id,
        name=name,
        description=description,
        rule_document=rule,
        created_at=now,
        updated_at=now,
        version=0,
        backfill=Backfill(),
    )
    return _custom_summary(repository.save_definition(tenant, definition), {})


def replace_segment(
    tenant: TenantId,
    segment_id: str,
    name: str,
    description: str | None,
    rule: dict[str, object],
    expected_version: int | None,
) -> SegmentSummary:
    current = _live_definition(tenant, segment_id)
    if expected_version is not None and expected_version != current.version:
        raise PreconditionFailed(f"segment {segment_id} is at version {current.version}")
    _checked_rule(tenant, segment_id, rule)
    changed = replace(
        current,
        name=name,
        description=description,
        rule_document=rule,
        updated_at=utc_now(),
        backfill=Backfill() if rule != current.rule_document else current.backfill,
    )
    saved = repository.save_definition(tenant, changed)
    return _custom_summary(saved, repository.member_counts(tenant))


def delete_segment(tenant: TenantId, segment_id: str) -> None:
    """Hides the segment at once; the back-fill then takes every member out of it and
    removes the definition."""
    current = _live_definition(tenant, segment_id)
    others = [d for d in repository.list_definitions(tenant) if d.id != segment_id]
    dependents = [
        other_id
        for other_id, rule in parse_definitions(tenant, others).usable.items()
        if segment_id in rule.segment_references()
    ]
    if dependents:
        raise InvalidInput(
            [FieldIssue("segment", f"segment {dependents[0]} refers to it", "in_use")]
        )
    repository.save_definition(
        tenant, replace(current, deleting=True, backfill=Backfill(), updated_at=utc_now())
    )


# The back-fill and the daily job.


@dataclass
class JobReport:
    tenants: int = 0
    customers: int = 0
    changed: int = 0
    failed: list[str] = field(default_factory=list)


def _refresh_many(
    tenant: TenantId, customer_ids: list[str], rules: TenantRules, today: date, report: JobReport
) -> None:
    from chalicelib.services.segment_events import event_writer

    events = event_writer(rules.config)
    for customer_id in customer_ids:
        report.customers += 1
        try:
            if refresh_customer(tenant, customer_id, rules, today, events=events):
                report.changed += 1
        except Exception:  # noqa: BLE001 - one customer's failure must not stop the job
            logger.exception("segment refresh failed", customer_id=customer_id)
            report.failed.append(customer_id)


def continue_backfills(tenant: TenantId, today: date, deadline: float) -> JobReport:
    """Advance every unfinished back-fill of the tenant one page at a time, saving the
    cursor after each page under the definition's version (resumable, single-writer)."""
    report = JobReport()
    for definition in repository.list_definitions(tenant):
        while definition.backfill.status is not BackfillStatus.DONE:
            if time.monotonic() > deadline:
                return report
            rules = tenant_rules(tenant)
            backfill = definition.backfill
            page = customer_repository.list_customers(
                tenant, PageRequest(BACKFILL_PAGE, backfill.cursor)
            )
            _refresh_many(tenant, [c.id for c in page.items], rules, today, report)
            now = utc_now()
            progressed = Backfill(
                status=BackfillStatus.RUNNING if page.next_cursor else BackfillStatus.DONE,
                cursor=page.next_cursor,
                processed=backfill.processed + len(page.items),
                started_at=backfill.started_at or now,
                finished_at=None if page.next_cursor else now,
            )
            if progressed.status is BackfillStatus.DONE and definition.deleting:
                repository.delete_definition(tenant, definition)
                break
            try:
                definition = repository.save_definition(
                    tenant, replace(definition, backfill=progressed)
                )
            except ConcurrentModification:
                break
    return report


def refresh_due(tenant: TenantId, day: date) -> JobReport:
    """The customers whose memberships change by time on `day` (gsi5), nobody else."""
    report = JobReport()
    due = list(dict.fromkeys(repository.customers_due(tenant, day)))
    if due:
        _refresh_many(tenant, due, tenant_rules(tenant), day, report)
    return report
