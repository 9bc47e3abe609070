"""Campaign trigger rules: which tier moves a `tier_changed` campaign wants, the trigger
body's validation, and the `points_expiring` sweep's window and its daily progress."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain import campaigns as rules
from chalicelib.domain.campaigns import Audience, Campaign, Schedule, ScheduleKind, TriggerKind
from chalicelib.schemas.campaigns import AudienceBody, TriggerBody

NOW = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)


def _campaign(audience: Audience) -> Campaign:
    return Campaign(
        id="cmp_1",
        name="Trigger",
        audience=audience,
        channel=rules.Channel.EMAIL,
        template="Hi",
        schedule=Schedule(ScheduleKind.NOW),
        holdout_percent=0,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("target", "before", "after", "wanted"),
    [
        (None, "member", "silver", True),
        (None, "gold", "silver", True),
        (None, "silver", "silver", False),
        ("gold", "silver", "gold", True),
        ("gold", "gold", "silver", False),
        ("gold", "member", "silver", False),
    ],
)
def test_a_tier_campaign_wants_moves_to_another_tier_into_its_target(
    target: str | None, before: str, after: str, wanted: bool
) -> None:
    audience = Audience(trigger=TriggerKind.TIER_CHANGED, tier=target)
    assert audience.wants_tier_change(before, after) is wanted


def test_other_triggers_want_no_tier_change() -> None:
    assert not Audience(trigger=TriggerKind.TICKET_RESOLVED).wants_tier_change("a", "b")


@pytest.mark.parametrize(
    "trigger",
    [
        {"kind": "tier_changed"},
        {"kind": "tier_changed", "tier": "gold"},
        {"kind": "ticket_resolved"},
        {"kind": "points_expiring", "within_days": 30},
        {"kind": "segment.entered", "segment_id": "lifecycle:new"},
        {"kind": "birthday"},
    ],
)
def test_every_trigger_of_the_issue_validates(trigger: dict[str, Any]) -> None:
    audience = AudienceBody.model_validate_json(json.dumps({"trigger": trigger})).to_audience()
    assert audience.trigger is TriggerKind(trigger["kind"])
    assert audience.tier == trigger.get("tier")
    assert audience.within_days == trigger.get("within_days")


@pytest.mark.parametrize(
    ("trigger", "says"),
    [
        ({"kind": "points_expiring"}, "within_days"),
        ({"kind": "points_expiring", "within_days": 0}, "within_days"),
        ({"kind": "birthday", "within_days": 3}, "within_days"),
        ({"kind": "ticket_resolved", "tier": "gold"}, "tier"),
        ({"kind": "tier_changed", "tier": "Gold!"}, "tier"),
        ({"kind": "tier_changed", "segment_id": "x"}, "segment_id"),
    ],
)
def test_trigger_parameters_must_fit_their_kind(trigger: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        TriggerBody.model_validate_json(json.dumps(trigger))
    (error,) = refused.value.errors()
    assert says in ".".join(str(part) for part in error["loc"]) + error["msg"]


def test_a_points_expiring_campaign_starts_sweeping_from_today() -> None:
    # Given a scheduled campaign on points expiring within 14 days
    campaign = _campaign(Audience(trigger=TriggerKind.POINTS_EXPIRING, within_days=14))
    # When its run starts
    started = rules.run_started(campaign, NOW)
    # Then it runs, due at once, its sweep reading from today to 14 days on
    assert started.state is rules.CampaignState.RUNNING and started.next_run_at == NOW
    assert started.progress == rules.Progress(run_at=NOW, lot_day=date(2026, 12, 5))
    assert rules.expiry_horizon(started, NOW) == date(2026, 12, 19)


def test_a_finished_sweep_waits_for_midnight_and_reads_only_the_new_dates() -> None:
    # Given a running points_expiring campaign whose sweep read up to its horizon
    started = rules.run_started(
        _campaign(Audience(trigger=TriggerKind.POINTS_EXPIRING, within_days=14)), NOW
    )
    # When the sweep finishes
    done = rules.expiry_sweep_finished(started, NOW)
    # Then the next sweep starts at the next UTC midnight (which names its messages) from
    # the day after the horizon
    midnight = datetime(2026, 12, 6, tzinfo=UTC)
    assert done.state is rules.CampaignState.RUNNING and done.next_run_at == midnight
    assert done.progress == rules.Progress(run_at=midnight, lot_day=date(2026, 12, 20))
    assert done.runs == 1


def test_event_triggered_campaigns_run_with_nothing_due() -> None:
    for kind in (TriggerKind.TIER_CHANGED, TriggerKind.TICKET_RESOLVED):
        started = rules.run_started(_campaign(Audience(trigger=kind)), NOW)
        assert started.state is rules.CampaignState.RUNNING
        assert started.next_run_at is None and started.progress is None
