"""Campaigns: plain rules for their lifecycle, audience, message templates, holdout
assignment, quiet hours, the frequency-cap window and the uplift of a campaign."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from chalicelib.domain.errors import FieldIssue, IllegalTransition, InvalidInput
from chalicelib.domain.offers import Offer, OfferType


class CampaignState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    WEBHOOK = "webhook"


CONSENT_FOR_CHANNEL: Mapping[Channel, str] = {
    Channel.EMAIL: "email_marketing",
    Channel.SMS: "sms_marketing",
}
"""The consent flag a channel needs. Push and webhook messages go to the tenant's own app
integration; the consent map has no flag for them, so they need none."""


class TriggerKind(StrEnum):
    SEGMENT_ENTERED = "segment.entered"
    BIRTHDAY = "birthday"
    POINTS_EXPIRING = "points_expiring"
    TIER_CHANGED = "tier_changed"
    TICKET_RESOLVED = "ticket_resolved"


SUPPORTED_TRIGGERS = frozenset(TriggerKind)
EVENT_TRIGGERS = frozenset({TriggerKind.TIER_CHANGED, TriggerKind.TICKET_RESOLVED})
"""Triggers answered one event at a time from the data stream, the running campaigns found
by their kind (`segment.entered` campaigns are found by their segment)."""
BIRTHDAY_SEGMENT = "birthday:this_month"
MAX_EXPIRY_DAYS = 365


class ScheduleKind(StrEnum):
    NOW = "now"
    AT = "at"
    RECURRING = "recurring"


class Every(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Audience:
    """Either a segment's members at launch, or a trigger."""

    segment_id: str | None = None
    trigger: TriggerKind | None = None
    trigger_segment_id: str | None = None
    tier: str | None = None
    """`tier_changed`: only changes into this tier (None: any change)."""
    within_days: int | None = None
    """`points_expiring`: lots expiring within this many days of the sweep."""

    def wants_tier_change(self, before: str, after: str) -> bool:
        """A `tier_changed` campaign reacts to a move to another tier (into its target
        tier, when it names one)."""
        if self.trigger is not TriggerKind.TIER_CHANGED or before == after:
            return False
        return self.tier is None or self.tier == after

    def sweeps_expiring_points(self) -> bool:
        return self.trigger is TriggerKind.POINTS_EXPIRING

    def launch_segment(self) -> str | None:
        """The segment whose membership pages a run reads (birthday: the built-in
        `birthday:this_month`); None for triggers that react to events one by one."""
        if self.segment_id is not None:
            return self.segment_id
        if self.trigger is TriggerKind.BIRTHDAY:
            return BIRTHDAY_SEGMENT
        return None


@dataclass(frozen=True)
class Schedule:
    kind: ScheduleKind
    at: datetime | None = None
    every: Every | None = None
    time_of_day: time | None = None
    weekday: int | None = None
    day_of_month: int | None = None

    def first_run(self, now: datetime) -> datetime:
        if self.kind is ScheduleKind.NOW:
            return now
        if self.kind is ScheduleKind.AT and self.at is not None:
            return self.at.astimezone(UTC)
        return self.next_after(now)

    def next_after(self, after: datetime) -> datetime:
        """The first recurrence strictly after `after` (UTC): daily at `time_of_day`,
        weekly on `weekday` (0 = Monday), monthly on `day_of_month` (1-28)."""
        at = self.time_of_day or time(0, 0)
        day = after.astimezone(UTC).date()
        for offset in range(0, 64):
            candidate_day = day + timedelta(days=offset)
            candidate = datetime.combine(candidate_day, at, tzinfo=UTC)
            if candidate <= after:
                continue
            if self.every is Every.WEEKLY and candidate_day.weekday() != (self.weekday or 0):
                continue
            if self.every is Every.MONTHLY and candidate_day.day != (self.day_of_month or 1):
                continue
            return candidate
        raise ValueError("a recurrence always falls within 64 days")


@dataclass(frozen=True)
class Progress:
    """Where the current run stands: its start (which names its messages), the position
    in the audience's membership shards, the pages of recipients queued so far, and whether
    every page is queued (the run then ends once each page is settled: `PagesSettled`)."""

    run_at: datetime
    shard: int = 0
    after: str | None = None
    pages: int = 0
    queued_all: bool = False
    lot_day: date | None = None
    """`points_expiring`: the expiry date whose lots the sweep reads now (`after` is the
    cursor within it)."""


@dataclass(frozen=True)
class RecipientPage:
    """One page of a run's recipients (the member ids a membership page listed), sent to
    by a queue worker: the worker reads no membership again."""

    campaign_id: str
    run_at: datetime
    number: int
    customer_ids: tuple[str, ...]


@dataclass(frozen=True)
class PagesSettled:
    """A run's pages the workers finished (`done`) or gave up on after their last
    attempt (`failed`)."""

    done: int = 0
    failed: int = 0

    @property
    def settled(self) -> int:
        return self.done + self.failed


def run_complete(progress: Progress, pages: PagesSettled) -> bool:
    """Every page queued and each of them settled."""
    return progress.queued_all and pages.settled >= progress.pages


DEFERRED = "deferred"
"""The status of a message held by the tenant's quiet hours until the campaign job sends it."""

OUTCOME_COUNTERS: Mapping[str, str] = {
    "sent": "sent",
    "held_out": "held_out",
    "no_consent": "skipped_consent",
    "over_cap": "skipped_cap",
    "offer_ended": "skipped_offer",
    DEFERRED: DEFERRED,
}
"""The campaign counter a message recorded with each status adds 1 to (`cancelled` has none)."""


def message_counters(status: str, replaces_counted_deferral: bool) -> dict[str, int]:
    """What a campaign message item, stored with `status`, adds to its campaign's counters:
    1 to its outcome's counter and, when it replaced a deferred message that was counted,
    -1 to `deferred` (the message stopped waiting: sent, skipped or cancelled), so
    `deferred` is the number of messages waiting for quiet hours to end. Empty: nothing to
    count."""
    counters: dict[str, int] = {}
    counter = OUTCOME_COUNTERS.get(status)
    if counter is not None:
        counters[counter] = 1
    if replaces_counted_deferral:
        counters[DEFERRED] = counters.get(DEFERRED, 0) - 1
    return {name: amount for name, amount in counters.items() if amount}


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    audience: Audience
    channel: Channel
    template: str
    schedule: Schedule
    holdout_percent: int
    created_at: datetime
    updated_at: datetime
    state: CampaignState = CampaignState.DRAFT
    offer_id: str | None = None
    survey: Mapping[str, str] | None = None
    next_run_at: datetime | None = None
    progress: Progress | None = None
    runs: int = 0
    version: int = 0


_LAUNCHABLE = frozenset({CampaignState.DRAFT})
_CANCELLABLE = frozenset({CampaignState.DRAFT, CampaignState.SCHEDULED, CampaignState.RUNNING})
_EDITABLE = frozenset({CampaignState.DRAFT, CampaignState.SCHEDULED})


def _allowed(state: CampaignState) -> list[str]:
    moves = []
    if state in _LAUNCHABLE:
        moves.append("launch")
    if state in _CANCELLABLE:
        moves.append("cancel")
    return moves


def launched(campaign: Campaign, now: datetime) -> Campaign:
    """draft → scheduled (running at once when due now, so the next job run starts it)."""
    if campaign.state not in _LAUNCHABLE:
        raise IllegalTransition(
            campaign.state.value,
            "scheduled",
            _allowed(campaign.state),
            f"a {campaign.state.value} campaign cannot be launched",
        )
    first = campaign.schedule.first_run(now)
    return _replace(campaign, state=CampaignState.SCHEDULED, next_run_at=first, updated_at=now)


def cancelled(campaign: Campaign, now: datetime) -> Campaign:
    if campaign.state not in _CANCELLABLE:
        raise IllegalTransition(
            campaign.state.value,
            "cancelled",
            _allowed(campaign.state),
            f"a {campaign.state.value} campaign cannot be cancelled",
        )
    return _replace(
        campaign, state=CampaignState.CANCELLED, next_run_at=None, progress=None, updated_at=now
    )


def require_editable(campaign: Campaign) -> None:
    if campaign.state not in _EDITABLE:
        raise IllegalTransition(
            campaign.state.value,
            campaign.state.value,
            _allowed(campaign.state),
            f"a {campaign.state.value} campaign cannot be changed",
        )


def run_started(campaign: Campaign, now: datetime) -> Campaign:
    """scheduled → running. A campaign triggered by events (no launch segment) then runs
    until cancelled, with no run due."""
    if campaign.audience.sweeps_expiring_points():
        return _replace(
            campaign,
            state=CampaignState.RUNNING,
            next_run_at=now,
            progress=Progress(run_at=now, lot_day=now.astimezone(UTC).date()),
            updated_at=now,
        )
    if campaign.audience.launch_segment() is None:
        return _replace(
            campaign, state=CampaignState.RUNNING, next_run_at=None, progress=None, updated_at=now
        )
    run_at = campaign.next_run_at or now
    return _replace(
        campaign, state=CampaignState.RUNNING, progress=Progress(run_at=run_at), updated_at=now
    )


def run_finished(campaign: Campaign, now: datetime) -> Campaign:
    """A one-off campaign completes; a recurring one waits for its next run; a trigger
    campaign without a launch segment keeps running (its sends come from events)."""
    runs = campaign.runs + 1
    if campaign.schedule.kind is ScheduleKind.RECURRING:
        after = max(now, campaign.progress.run_at if campaign.progress else now)
        return _replace(
            campaign,
            state=CampaignState.SCHEDULED,
            progress=None,
            next_run_at=campaign.schedule.next_after(after),
            runs=runs,
            updated_at=now,
        )
    return _replace(
        campaign,
        state=CampaignState.COMPLETED,
        progress=None,
        next_run_at=None,
        runs=runs,
        updated_at=now,
    )


def expiry_horizon(campaign: Campaign, now: datetime) -> date:
    """The last expiry date a sweep at `now` reads: `within_days` after today (UTC)."""
    return now.astimezone(UTC).date() + timedelta(days=campaign.audience.within_days or 0)


def expiry_sweep_finished(campaign: Campaign, now: datetime) -> Campaign:
    """A `points_expiring` sweep read every lot up to its horizon: the next one starts at
    the next UTC midnight and reads only the dates that entered the window since, so a lot
    date is swept once and each customer hears once per sweep. The next sweep's start is
    set now, so a sweep interrupted and resumed names its messages the same."""
    tomorrow = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0), UTC)
    following = expiry_horizon(campaign, now) + timedelta(days=1)
    return _replace(
        campaign,
        next_run_at=tomorrow,
        progress=Progress(run_at=tomorrow, lot_day=following),
        runs=campaign.runs + 1,
        updated_at=now,
    )


def _replace(campaign: Campaign, **changes: object) -> Campaign:
    from dataclasses import replace

    return replace(campaign, **changes)  # type: ignore[arg-type]


# Message templates.

TEMPLATE_FIELDS = frozenset(
    {"first_name", "last_name", "name", "email", "phone", "external_id", "customer_id"}
)
"""The customer fields a template may name as `{{field}}`. Substitution is plain text
replacement of these names: nothing in a template is evaluated."""

COUPON_FIELD = "coupon_code"
"""The code of the coupon a sent message issues (discount and gift offers only)."""

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def template_fields(template: str) -> list[str]:
    return [match.group(1) for match in _PLACEHOLDER.finditer(template)]


def check_template(template: str, field_name: str = "message.template") -> None:
    """Unknown `{{fields}}` and stray braces are refused at creation (422)."""
    known = TEMPLATE_FIELDS | {COUPON_FIELD}
    unknown = sorted({name for name in template_fields(template) if name not in known})
    issues = [
        FieldIssue(field_name, f"unknown field {{{{{name}}}}}", "unknown_field") for name in unknown
    ]
    leftover = _PLACEHOLDER.sub("", template)
    if "{{" in leftover or "}}" in leftover:
        issues.append(FieldIssue(field_name, "unbalanced '{{' or '}}'", "unbalanced"))
    if issues:
        raise InvalidInput(issues)


COUPON_OFFER_TYPES = frozenset({OfferType.DISCOUNT, OfferType.GIFT})
"""The offers whose campaign issues each sent message a coupon. A bonus-points offer
issues none: a multiplier applies to purchases in its window by itself, and a fixed-points
coupon is issued through `POST /v1/offers/{id}/coupons`."""


def issues_coupons(offer: Offer | None) -> bool:
    return offer is not None and offer.type in COUPON_OFFER_TYPES


def check_offer(template: str, offer: Offer | None) -> None:
    """`{{coupon_code}}` needs a campaign offer that issues coupons (422 otherwise)."""
    if COUPON_FIELD in template_fields(template) and not issues_coupons(offer):
        raise InvalidInput(
            [
                FieldIssue(
                    "message.template",
                    "{{coupon_code}} needs an offer_id of a discount or gift offer",
                    "no_coupon_offer",
                )
            ]
        )


def customer_fields(
    customer_id: str, name: str | None, email: str | None, phone: str | None, external: str | None
) -> dict[str, str]:
    parts = (name or "").split(maxsplit=1)
    return {
        "customer_id": customer_id,
        "name": name or "",
        "first_name": parts[0] if parts else "",
        "last_name": parts[1] if len(parts) > 1 else "",
        "email": email or "",
        "phone": phone or "",
        "external_id": external or "",
    }


def render(template: str, values: Mapping[str, str]) -> str:
    """Each `{{field}}` replaced by its value (empty when there is none: a customer field
    the customer lacks, or `{{coupon_code}}` where no coupon was issued)."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), template)


# Holdout.

MAX_HOLDOUT_PERCENT = 50


def in_holdout(campaign_id: str, customer_id: str, holdout_percent: int) -> bool:
    """Deterministic: SHA-256 of (campaign, customer) as a number in [0, 1) below the
    share. The same customer is always in the same group of one campaign, and groups of
    different campaigns are independent."""
    if holdout_percent <= 0:
        return False
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return position < holdout_percent / 100


# Quiet hours and the frequency cap.


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    time_zone: str = "UTC"

    def ends_after(self, now: datetime) -> datetime | None:
        """When quiet hours that hold at `now` end (UTC), or None when sending is allowed.
        A window whose end is before its start runs over midnight."""
        zone = ZoneInfo(self.time_zone)
        local = now.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if self.start == self.end:
            return None
        overnight = self.end < self.start
        quiet = (
            (clock >= self.start or clock < self.end)
            if overnight
            else (self.start <= clock < self.end)
        )
        if not quiet:
            return None
        end_day = local.date()
        if overnight and clock >= self.start:
            end_day += timedelta(days=1)
        return datetime.combine(end_day, self.end, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class FrequencyCap:
    max_messages: int
    window_hours: int

    def window_of(self, now: datetime) -> str:
        """The cap's window holding `now`: consecutive windows of `window_hours` from the
        Unix epoch (the counter of a window is one item, so the cap is one conditioned
        update; a window is fixed, not sliding)."""
        seconds = self.window_hours * 3600
        start = int(now.timestamp()) // seconds * seconds
        return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def window_end(self, now: datetime) -> datetime:
        seconds = self.window_hours * 3600
        start = int(now.timestamp()) // seconds * seconds
        return datetime.fromtimestamp(start + seconds, UTC)


# Measurement.

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Uplift:
    """Treatment minus holdout conversion rate, with its 95 % confidence interval."""

    treatment_rate: float
    holdout_rate: float
    difference: float
    low: float
    high: float


def uplift(
    treatment_converted: int, treatment_size: int, holdout_converted: int, holdout_size: int
) -> Uplift | None:
    """Difference of two proportions with the Wald interval:
    d = p_t - p_h, d ± 1.96 · sqrt(p_t(1-p_t)/n_t + p_h(1-p_h)/n_h). None without both
    groups."""
    if treatment_size <= 0 or holdout_size <= 0:
        return None
    p_t = treatment_converted / treatment_size
    p_h = holdout_converted / holdout_size
    error = math.sqrt(p_t * (1 - p_t) / treatment_size + p_h * (1 - p_h) / holdout_size)
    difference = p_t - p_h
    return Uplift(p_t, p_h, difference, difference - Z_95 * error, difference + Z_95 * error)


@dataclass(frozen=True)
class CampaignFigures:
    """The campaign's counters (sums over their shards)."""

    values: Mapping[str, Decimal] = field(default_factory=dict)

    def count(self, name: str) -> int:
        return int(self.values.get(name, 0))

    def amount(self, name: str) -> Decimal:
        return self.values.get(name, Decimal(0))
