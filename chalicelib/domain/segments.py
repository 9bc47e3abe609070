"""Segments: the built-in ones (lifecycle, RFM, value, churn risk, birthday month) and
custom rule segments. Pure: membership is a function of a customer's facts, metrics, the
tenant configuration, the custom definitions and the day."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import FieldIssue, InvalidInput
from chalicelib.domain.metrics import (
    CLOSED_TICKET_STATUSES,
    PRIOR_DAYS,
    ROLLING_DAYS,
    CustomerFacts,
    CustomerMetrics,
)
from chalicelib.domain.numbers import number_problem
from chalicelib.domain.tenant_config import LifecycleConfig, RfmConfig, TenantConfig

LIFECYCLE_SEGMENTS = (
    "lifecycle:prospect",
    "lifecycle:new",
    "lifecycle:active",
    "lifecycle:dormant",
    "lifecycle:churned",
)
RFM_SEGMENTS = (
    "rfm:champions",
    "rfm:loyal",
    "rfm:potential_loyalists",
    "rfm:recent",
    "rfm:at_risk",
    "rfm:hibernating",
    "rfm:needs_attention",
)
BUILT_IN_SEGMENTS: dict[str, str] = {
    "lifecycle:prospect": "No purchase yet.",
    "lifecycle:new": "First purchase within the configured number of days (30).",
    "lifecycle:active": "Purchased, and active within the dormancy threshold.",
    "lifecycle:dormant": "No activity for the dormancy threshold (90 days).",
    "lifecycle:churned": "No activity for the churn threshold (180 days).",
    "rfm:champions": "Recency, frequency and monetary scores all 4 or 5.",
    "rfm:loyal": "Frequency 4 or 5 and recency at least 3 (not champions).",
    "rfm:potential_loyalists": "Recency 4 or 5 and frequency 2 or 3.",
    "rfm:recent": "Recency 4 or 5 and a single purchase.",
    "rfm:at_risk": "Recency 1 or 2 and frequency at least 3.",
    "rfm:hibernating": "Recency 1 or 2 and frequency 1 or 2.",
    "rfm:needs_attention": "Every other purchasing customer.",
    "value:vip": "Lifetime spend at least the configured VIP threshold.",
    "risk:churn": (
        "Purchase rate in the last 90 days below half the rate of the 270 days before, or an "
        "unresolved complaint ticket past its resolution SLA."
    ),
    "birthday:this_month": "Birthday in the current month.",
}


@dataclass(frozen=True)
class RfmScore:
    recency: int
    frequency: int
    monetary: int

    @property
    def group(self) -> str:
        r, f, m = self.recency, self.frequency, self.monetary
        if r >= 4 and f >= 4 and m >= 4:
            return "rfm:champions"
        if f >= 4 and r >= 3:
            return "rfm:loyal"
        if r >= 4 and f in (2, 3):
            return "rfm:potential_loyalists"
        if r >= 4 and f == 1:
            return "rfm:recent"
        if r <= 2 and f >= 3:
            return "rfm:at_risk"
        if r <= 2:
            return "rfm:hibernating"
        return "rfm:needs_attention"


def _at_least_score(value: Decimal | int, thresholds: Sequence[int]) -> int:
    return 1 + sum(1 for threshold in thresholds if value >= threshold)


def rfm_score(
    metrics: CustomerMetrics, rules: RfmConfig, today: date
) -> tuple[RfmScore | None, date | None]:
    """The scores (None before the first purchase) and the day recency next drops."""
    if metrics.last_purchase_at is None:
        return None, None
    since = (today - metrics.last_purchase_at.date()).days
    recency = 1
    next_drop = None
    for candidate, limit in zip((5, 4, 3, 2), rules.recency_days, strict=True):
        if since <= limit:
            recency = candidate
            next_drop = metrics.last_purchase_at.date() + timedelta(days=limit + 1)
            break
    score = RfmScore(
        recency=recency,
        frequency=_at_least_score(metrics.purchase_count, rules.frequency),
        monetary=_at_least_score(metrics.total_spend, rules.monetary),
    )
    return score, next_drop


def lifecycle_stage(
    metrics: CustomerMetrics, rules: LifecycleConfig, today: date
) -> tuple[str, date | None]:
    if metrics.first_purchase_at is None:
        return "lifecycle:prospect", None
    latest = metrics.last_activity_at or metrics.last_purchase_at
    last_active = latest.date() if latest else today
    idle = (today - last_active).days
    dormant_on = last_active + timedelta(days=rules.dormant_after_days)
    churned_on = last_active + timedelta(days=rules.churned_after_days)
    if idle >= rules.churned_after_days:
        return "lifecycle:churned", None
    if idle >= rules.dormant_after_days:
        return "lifecycle:dormant", churned_on
    new_until = metrics.first_purchase_at.date() + timedelta(days=rules.new_customer_days)
    if today < new_until:
        return "lifecycle:new", min(new_until, dormant_on)
    return "lifecycle:active", dormant_on


def churn_risk(
    facts: CustomerFacts, metrics: CustomerMetrics, today: date
) -> tuple[bool, date | None]:
    """Purchase rate in the last 90 days below half that of the 270 days before (with at
    least two purchases then), or a complaint ticket unresolved past its resolution SLA."""
    prior_rate = metrics.purchase_count_prior_270d / PRIOR_DAYS
    recent_rate = metrics.purchase_count_90d / ROLLING_DAYS
    slowing = metrics.purchase_count_prior_270d >= 2 and recent_rate < prior_rate / 2
    overdue = False
    next_due = None
    for ticket in facts.tickets:
        if ticket.category != "complaint" or ticket.status in CLOSED_TICKET_STATUSES:
            continue
        deadline = ticket.created_at + timedelta(microseconds=ticket.resolution_target_us)
        if today > deadline.date():
            overdue = True
        else:
            candidate = deadline.date() + timedelta(days=1)
            next_due = candidate if next_due is None else min(next_due, candidate)
    return slowing or overdue, next_due


def _first_of_next_month(day: date) -> date:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=last) + timedelta(days=1)


def birthday_this_month(birthday: date | None, today: date) -> tuple[bool, date | None]:
    if birthday is None:
        return False, None
    if birthday.month == today.month:
        return True, _first_of_next_month(today)
    year = today.year if birthday.month > today.month else today.year + 1
    return False, date(year, birthday.month, 1)


# Custom rule segments.


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    CONTAINS = "contains"
    EXISTS = "exists"


class FieldKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    TIME = "time"
    SET = "set"
    ANY = "any"


PROFILE_FIELDS: dict[str, FieldKind] = {
    "name": FieldKind.TEXT,
    "email": FieldKind.TEXT,
    "phone": FieldKind.TEXT,
    "external_id": FieldKind.TEXT,
    "gender": FieldKind.TEXT,
    "birthday": FieldKind.TEXT,
    "created_at": FieldKind.TIME,
    "address.country": FieldKind.TEXT,
    "address.city": FieldKind.TEXT,
    "tags": FieldKind.SET,
    "segments": FieldKind.SET,
    "tier": FieldKind.TEXT,
    "points_balance": FieldKind.NUMBER,
}
METRIC_FIELDS: dict[str, FieldKind] = {
    "first_purchase_at": FieldKind.TIME,
    "last_purchase_at": FieldKind.TIME,
    "purchase_count": FieldKind.NUMBER,
    "total_spend": FieldKind.NUMBER,
    "purchase_count_90d": FieldKind.NUMBER,
    "spend_90d": FieldKind.NUMBER,
    "average_order_value": FieldKind.NUMBER,
    "last_activity_at": FieldKind.TIME,
    "points_balance": FieldKind.NUMBER,
    "tier": FieldKind.TEXT,
    "open_tickets": FieldKind.NUMBER,
    "last_complaint_at": FieldKind.TIME,
    "last_feedback_score": FieldKind.NUMBER,
    "purchase_count_prior_270d": FieldKind.NUMBER,
}
_OPS_BY_KIND: dict[FieldKind, frozenset[Op]] = {
    FieldKind.TEXT: frozenset({Op.EQ, Op.NE, Op.IN, Op.EXISTS, Op.GT, Op.GTE, Op.LT, Op.LTE}),
    FieldKind.NUMBER: frozenset({Op.EQ, Op.NE, Op.IN, Op.EXISTS, Op.GT, Op.GTE, Op.LT, Op.LTE}),
    FieldKind.TIME: frozenset({Op.EXISTS, Op.GT, Op.GTE, Op.LT, Op.LTE}),
    FieldKind.SET: frozenset({Op.CONTAINS, Op.EXISTS}),
    FieldKind.ANY: frozenset(Op),
}
MAX_RULE_DEPTH = 6
MAX_RULE_CONDITIONS = 50


@dataclass(frozen=True)
class Condition:
    field: str
    op: Op
    value: Any


@dataclass(frozen=True)
class RuleNode:
    """`all`/`any` of children, `not` of one child, or one condition."""

    kind: str  # "all", "any", "not" or "condition"
    children: tuple[RuleNode, ...] = ()
    condition: Condition | None = None

    def segment_references(self) -> set[str]:
        found: set[str] = set()
        if self.condition is not None and self.condition.field == "segments":
            found.add(str(self.condition.value))
        for child in self.children:
            found |= child.segment_references()
        return found


def field_kind(name: str) -> FieldKind | None:
    if name in PROFILE_FIELDS:
        return PROFILE_FIELDS[name]
    prefix, _, rest = name.partition(".")
    if prefix == "metrics" and rest in METRIC_FIELDS:
        return METRIC_FIELDS[rest]
    if prefix == "attributes" and rest:
        return FieldKind.ANY
    return None


@dataclass
class _Parser:
    issues: list[FieldIssue] = field(default_factory=list)
    conditions: int = 0

    def fail(self, path: str, message: str, code: str = "invalid_rule") -> None:
        self.issues.append(FieldIssue(path, message, code))

    def node(self, raw: Any, path: str, depth: int) -> RuleNode | None:
        if depth > MAX_RULE_DEPTH:
            self.fail(path, f"rules may nest at most {MAX_RULE_DEPTH} levels")
            return None
        if not isinstance(raw, dict):
            self.fail(path, "expected an object with all, any, not or field/op/value")
            return None
        logical = [key for key in ("all", "any", "not") if key in raw]
        if logical:
            if len(raw) != 1:
                self.fail(path, f"{logical[0]} must be the object's only key")
                return None
            key = logical[0]
            if key == "not":
                child = self.node(raw["not"], f"{path}.not", depth + 1)
                return RuleNode("not", (child,)) if child else None
            items = raw[key]
            if not isinstance(items, list) or not items:
                self.fail(f"{path}.{key}", "expected a non-empty list of rules")
                return None
            children = [
                self.node(item, f"{path}.{key}.{i}", depth + 1) for i, item in enumerate(items)
            ]
            if any(child is None for child in children):
                return None
            return RuleNode(key, tuple(c for c in children if c is not None))
        return self.leaf(raw, path)

    def leaf(self, raw: dict[str, Any], path: str) -> RuleNode | None:
        self.conditions += 1
        unknown = set(raw) - {"field", "op", "value"}
        if unknown:
            self.fail(path, f"unknown keys: {', '.join(sorted(unknown))}")
            return None
        name, op_name = raw.get("field"), raw.get("op")
        kind = field_kind(name) if isinstance(name, str) else None
        if kind is None:
            self.fail(f"{path}.field", f"unknown field {name!r}", "unknown_field")
            return None
        try:
            op = Op(str(op_name))
        except ValueError:
            self.fail(f"{path}.op", f"op must be one of {', '.join(o.value for o in Op)}")
            return None
        if op not in _OPS_BY_KIND[kind]:
            self.fail(f"{path}.op", f"{op.value} does not apply to {name} ({kind.value})")
            return None
        value = raw.get("value")
        if not self._value_fits(kind, op, value, f"{path}.value"):
            return None
        if kind is FieldKind.TIME and op is not Op.EXISTS:
            value = _as_time(value)
        return RuleNode("condition", condition=Condition(str(name), op, value))

    def _value_fits(self, kind: FieldKind, op: Op, value: Any, path: str) -> bool:
        if op is Op.EXISTS:
            if not isinstance(value, bool):
                self.fail(path, "exists takes true or false")
                return False
            return True
        if op is Op.IN:
            if not isinstance(value, list) or not value or len(value) > 100:
                self.fail(path, "in takes a list of 1 to 100 values")
                return False
            return all(self._scalar_fits(kind, item, path) for item in value)
        if kind is FieldKind.SET:
            if not isinstance(value, str) or not value:
                self.fail(path, "contains takes a non-empty string")
                return False
            return True
        return self._scalar_fits(kind, value, path)

    def _scalar_fits(self, kind: FieldKind, value: Any, path: str) -> bool:
        if kind is FieldKind.NUMBER and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            self.fail(path, "expected a number")
            return False
        if kind is FieldKind.TEXT and not isinstance(value, str):
            self.fail(path, "expected a string")
            return False
        if kind is FieldKind.TIME and _as_time(value) is None:
            self.fail(path, "expected an ISO 8601 date-time with a time zone")
            return False
        if kind is FieldKind.ANY and not isinstance(value, str | int | float | bool):
            self.fail(path, "expected a string, number or boolean")
            return False
        unstorable = number_problem(value) if isinstance(value, int | float) else None
        if unstorable is not None:
            self.fail(path, unstorable, "invalid_number")
            return False
        return True


def _as_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def parse_rule(raw: Any, path: str = "rule") -> RuleNode:
    """A rule from its JSON form, or InvalidInput naming every problem by its path."""
    parser = _Parser()
    node = parser.node(raw, path, 1)
    if parser.conditions > MAX_RULE_CONDITIONS:
        parser.fail(path, f"a rule may have at most {MAX_RULE_CONDITIONS} conditions")
    if parser.issues or node is None:
        raise InvalidInput(parser.issues or [FieldIssue(path, "invalid rule", "invalid_rule")])
    return node


def check_references(
    segment_id: str, rule: RuleNode, rules_by_segment: Mapping[str, RuleNode]
) -> None:
    """Every referenced segment exists, and no segment depends on itself."""
    issues = []
    for reference in sorted(rule.segment_references()):
        if reference not in BUILT_IN_SEGMENTS and reference not in rules_by_segment:
            issues.append(FieldIssue("rule", f"unknown segment {reference!r}", "unknown_segment"))
    if issues:
        raise InvalidInput(issues)
    graph = {**rules_by_segment, segment_id: rule}
    seen: set[str] = set()

    def visit(current: str, trail: tuple[str, ...]) -> None:
        if current in trail:
            cycle = " -> ".join((*trail, current))
            raise InvalidInput([FieldIssue("rule", f"segments refer in a cycle: {cycle}", "cycle")])
        if current in seen or current not in graph:
            return
        for reference in sorted(graph[current].segment_references()):
            visit(reference, (*trail, current))
        seen.add(current)

    visit(segment_id, ())


def evaluation_order(rules_by_segment: Mapping[str, RuleNode]) -> list[str]:
    """Custom segments so that every segment comes after the segments its rule refers to."""
    order: list[str] = []
    placed: set[str] = set()

    def place(segment_id: str, trail: frozenset[str]) -> None:
        if segment_id in placed or segment_id not in rules_by_segment or segment_id in trail:
            return
        for reference in sorted(rules_by_segment[segment_id].segment_references()):
            place(reference, trail | {segment_id})
        placed.add(segment_id)
        order.append(segment_id)

    for segment_id in sorted(rules_by_segment):
        place(segment_id, frozenset())
    return order


def _comparable(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """Both sides as one type (numbers as Decimal), or None when they cannot compare."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return (actual, expected) if type(actual) is type(expected) else None
    if isinstance(actual, int | float | Decimal):
        if not isinstance(expected, int | float | Decimal):
            return None
        return Decimal(str(actual)), Decimal(str(expected))
    if isinstance(actual, datetime) and isinstance(expected, datetime):
        return actual, expected
    return (actual, expected) if type(actual) is type(expected) else None


_ORDERINGS: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: lambda a, b: bool(a == b),
    Op.NE: lambda a, b: bool(a != b),
    Op.GT: lambda a, b: bool(a > b),
    Op.GTE: lambda a, b: bool(a >= b),
    Op.LT: lambda a, b: bool(a < b),
    Op.LTE: lambda a, b: bool(a <= b),
}


def _compare(actual: Any, op: Op, expected: Any) -> bool:
    """A missing or differently typed value matches only `ne`."""
    if op is Op.EXISTS:
        present = actual is not None and actual != frozenset()
        return present is bool(expected)
    if op is Op.CONTAINS:
        return isinstance(actual, frozenset | set) and expected in actual
    if op is Op.IN:
        return any(_compare(actual, Op.EQ, item) for item in expected)
    pair = _comparable(actual, expected) if actual is not None else None
    if pair is None:
        return op is Op.NE
    return _ORDERINGS[op](*pair)


def evaluate(rule: RuleNode, values: Mapping[str, Any]) -> bool:
    if rule.kind == "all":
        return all(evaluate(child, values) for child in rule.children)
    if rule.kind == "any":
        return any(evaluate(child, values) for child in rule.children)
    if rule.kind == "not":
        return not evaluate(rule.children[0], values)
    condition = rule.condition
    assert condition is not None
    return _compare(values.get(condition.field), condition.op, condition.value)


def _rule_values(
    facts: CustomerFacts, metrics: CustomerMetrics, segments: frozenset[str]
) -> dict[str, Any]:
    profile = facts.profile
    values: dict[str, Any] = {
        name: profile.fields.get(name) for name in PROFILE_FIELDS if name in profile.fields
    }
    address = profile.fields.get("address") or {}
    values["address.country"] = address.get("country")
    values["address.city"] = address.get("city")
    values["birthday"] = profile.birthday.isoformat() if profile.birthday else None
    values["created_at"] = profile.created_at
    values["tags"] = profile.tags
    values["segments"] = segments
    values["tier"] = metrics.tier
    values["points_balance"] = metrics.points_balance
    for name in METRIC_FIELDS:
        values[f"metrics.{name}"] = getattr(metrics, name)
    for key, value in profile.attributes.items():
        values[f"attributes.{key}"] = value
    return values


@dataclass(frozen=True)
class Membership:
    segments: frozenset[str]
    rfm: RfmScore | None
    next_change: date | None


def memberships(
    facts: CustomerFacts,
    metrics: CustomerMetrics,
    metrics_change: date | None,
    config: TenantConfig,
    custom: Mapping[str, RuleNode],
    today: date,
    kept: frozenset[str] = frozenset(),
) -> Membership:
    """Every segment the customer belongs to on `today`, and the next day on which that may
    change by time alone (the customer is due for the daily job then). `kept` are custom
    segments whose rules cannot be evaluated and that the customer stays in as it was."""
    due: list[date | None] = [metrics_change]
    found: set[str] = set(kept)
    stage, stage_change = lifecycle_stage(metrics, config.lifecycle, today)
    found.add(stage)
    due.append(stage_change)
    score, recency_drop = rfm_score(metrics, config.segments.rfm, today)
    if score is not None:
        found.add(score.group)
        due.append(recency_drop)
    if metrics.total_spend >= config.segments.vip_min_spend and metrics.purchase_count:
        found.add("value:vip")
    at_risk, risk_change = churn_risk(facts, metrics, today)
    if at_risk:
        found.add("risk:churn")
    due.append(risk_change)
    birthday, birthday_change = birthday_this_month(facts.profile.birthday, today)
    if birthday:
        found.add("birthday:this_month")
    due.append(birthday_change)
    for segment_id in evaluation_order(custom):
        values = _rule_values(facts, metrics, frozenset(found))
        if evaluate(custom[segment_id], values):
            found.add(segment_id)
    upcoming = [day for day in due if day is not None and day > today]
    return Membership(frozenset(found), score, min(upcoming, default=None))


class BackfillStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True)
class Backfill:
    """Progress of the job that evaluates a new or changed definition for every existing
    customer (or, for a deleted segment, takes every customer out of it)."""

    status: BackfillStatus = BackfillStatus.PENDING
    cursor: str | None = None
    processed: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class SegmentDefinition:
    id: str
    name: str
    description: str | None
    rule_document: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int
    backfill: Backfill
    deleting: bool = False

    @property
    def rule(self) -> RuleNode:
        return parse_rule(self.rule_document)


MAX_CUSTOM_SEGMENTS = 40


@dataclass(frozen=True)
class SegmentState:
    """What the stream consumer keeps per customer: metrics, memberships, next due day."""

    metrics: CustomerMetrics
    segments: frozenset[str]
    rfm: RfmScore | None
    next_change: date | None
    version: int = 0


class EventStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class SegmentEvent:
    """An event to publish: `segment.entered` or `segment.exited` (one customer, one
    segment), or `audit.alert` (its `detail` says which rule and what triggered it)."""

    id: str
    type: str
    segment_id: str | None
    customer_id: str | None
    occurred_at: datetime
    status: EventStatus = EventStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    delivered_at: datetime | None = None
    replays: int = 0
    detail: Mapping[str, str] = field(default_factory=dict)

    def payload(self, tenant: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "tenant_id": tenant,
            "segment_id": self.segment_id,
            "customer_id": self.customer_id,
            "occurred_at": self.occurred_at.isoformat(),
        }
        if self.detail:
            body["detail"] = dict(self.detail)
        return body
