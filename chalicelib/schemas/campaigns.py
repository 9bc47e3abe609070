"""Campaign request and response bodies (issue 15)."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from chalicelib.domain import campaigns as rules
from chalicelib.domain.campaigns import Campaign
from chalicelib.schemas.common import Instant, RequestBody

CampaignName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
SegmentRef = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_:.-]+$")
]
OfferRef = Annotated[str, StringConstraints(pattern=r"^off_[A-Za-z0-9]{1,40}$")]
TierRef = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class TriggerBody(RequestBody):
    kind: rules.TriggerKind = Field(
        description="`segment.entered` (with `segment_id`): each customer entering the "
        "segment; `birthday`: birthdays this month; `tier_changed` (optional `tier`): each "
        "move of a customer's loyalty tier (into `tier` only, when given); "
        "`ticket_resolved`: each of a customer's tickets turning resolved; "
        "`points_expiring` (with `within_days`): a daily sweep of the customers holding "
        "points that expire within that many days."
    )
    segment_id: SegmentRef | None = None
    tier: TierRef | None = Field(
        None, description="`tier_changed`: one of the tenant's loyalty tiers (422 otherwise)."
    )
    within_days: Annotated[int, Field(ge=1, le=rules.MAX_EXPIRY_DAYS)] | None = Field(
        None, description="`points_expiring`: 1-365."
    )

    @model_validator(mode="after")
    def _supported(self) -> TriggerBody:
        if self.kind not in rules.SUPPORTED_TRIGGERS:
            raise ValueError(f"the trigger {self.kind.value} is not available yet")
        if (self.kind is rules.TriggerKind.SEGMENT_ENTERED) != (self.segment_id is not None):
            raise ValueError("segment_id goes with (and only with) the segment.entered trigger")
        if self.tier is not None and self.kind is not rules.TriggerKind.TIER_CHANGED:
            raise ValueError("tier goes only with the tier_changed trigger")
        if (self.kind is rules.TriggerKind.POINTS_EXPIRING) != (self.within_days is not None):
            raise ValueError("within_days goes with (and only with) the points_expiring trigger")
        return self


class AudienceBody(RequestBody):
    segment_id: SegmentRef | None = Field(None, description="Every member when it runs.")
    trigger: TriggerBody | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AudienceBody:
        if (self.segment_id is None) == (self.trigger is None):
            raise ValueError("give exactly one of segment_id and trigger")
        return self

    def to_audience(self) -> rules.Audience:
        if self.trigger is not None:
            return rules.Audience(
                trigger=self.trigger.kind,
                trigger_segment_id=self.trigger.segment_id,
                tier=self.trigger.tier,
                within_days=self.trigger.within_days,
            )
        return rules.Audience(segment_id=self.segment_id)


class ScheduleBody(RequestBody):
    kind: rules.ScheduleKind
    at: Instant | None = Field(None, description="`at`: when to run.")
    every: rules.Every | None = Field(None, description="`recurring`: daily, weekly, monthly.")
    time: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] | None = (
        Field(None, description="`recurring`: HH:MM, UTC.")
    )
    weekday: Annotated[int, Field(ge=0, le=6)] | None = Field(None, description="0 = Monday.")
    day_of_month: Annotated[int, Field(ge=1, le=28)] | None = None

    @model_validator(mode="after")
    def _complete(self) -> ScheduleBody:
        if (self.kind is rules.ScheduleKind.AT) != (self.at is not None):
            raise ValueError("`at` goes with (and only with) kind `at`")
        recurring = self.kind is rules.ScheduleKind.RECURRING
        if recurring != (self.every is not None) or recurring != (self.time is not None):
            raise ValueError("`every` and `time` go with (and only with) kind `recurring`")
        if (self.every is rules.Every.WEEKLY) != (self.weekday is not None):
            raise ValueError("`weekday` goes with (and only with) `every: weekly`")
        if (self.every is rules.Every.MONTHLY) != (self.day_of_month is not None):
            raise ValueError("`day_of_month` goes with (and only with) `every: monthly`")
        return self

    def to_schedule(self) -> rules.Schedule:
        return rules.Schedule(
            kind=self.kind,
            at=self.at,
            every=self.every,
            time_of_day=time.fromisoformat(self.time) if self.time else None,
            weekday=self.weekday,
            day_of_month=self.day_of_month,
        )


class MessageBody(RequestBody):
    template: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="Text with `{{field}}` placeholders: "
        + ", ".join(sorted(rules.TEMPLATE_FIELDS))
        + "; and `{{coupon_code}}`, the code of the single-use coupon each sent message"
        " issues when the campaign's offer is a discount or gift offer. Plain substitution;"
        " an unknown field is refused (422)."
    )


class SurveyBody(RequestBody):
    kind: Literal["nps", "csat"]
    question: Annotated[str, StringConstraints(min_length=1, max_length=300)]


class CampaignCreate(RequestBody):
    name: CampaignName
    audience: AudienceBody
    offer_id: OfferRef | None = None
    message: MessageBody
    channel: rules.Channel
    schedule: ScheduleBody
    holdout_percent: Annotated[int, Field(ge=0, le=rules.MAX_HOLDOUT_PERCENT)] = 0
    survey: SurveyBody | None = None


class CampaignUpdate(RequestBody):
    name: CampaignName | None = None
    message: MessageBody | None = None
    channel: rules.Channel | None = None
    schedule: ScheduleBody | None = None
    holdout_percent: Annotated[int, Field(ge=0, le=rules.MAX_HOLDOUT_PERCENT)] | None = None
    offer_id: OfferRef | None = None

    def changes(self) -> dict[str, Any]:
        sent = self.model_fields_set
        changes: dict[str, Any] = {}
        if "name" in sent and self.name is not None:
            changes["name"] = self.name
        if "message" in sent and self.message is not None:
            changes["template"] = self.message.template
        if "channel" in sent and self.channel is not None:
            changes["channel"] = self.channel
        if "schedule" in sent and self.schedule is not None:
            changes["schedule"] = self.schedule.to_schedule()
        if "holdout_percent" in sent and self.holdout_percent is not None:
            changes["holdout_percent"] = self.holdout_percent
        if "offer_id" in sent:
            changes["offer_id"] = self.offer_id
        return changes


class CampaignOut(BaseModel):
    id: str
    name: str
    state: str
    audience: dict[str, Any]
    offer_id: str | None
    message: dict[str, str]
    channel: str
    schedule: dict[str, Any]
    holdout_percent: int
    survey: dict[str, str] | None
    next_run_at: datetime | None
    runs: int
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOut:
        audience = campaign.audience
        schedule = campaign.schedule
        return cls(
            id=campaign.id,
            name=campaign.name,
            state=campaign.state.value,
            audience={"segment_id": audience.segment_id}
            if audience.segment_id
            else {"trigger": _trigger_out(audience)},
            offer_id=campaign.offer_id,
            message={"template": campaign.template},
            channel=campaign.channel.value,
            schedule={
                "kind": schedule.kind.value,
                "at": schedule.at.isoformat() if schedule.at else None,
                "every": schedule.every.value if schedule.every else None,
                "time": schedule.time_of_day.strftime("%H:%M") if schedule.time_of_day else None,
                "weekday": schedule.weekday,
                "day_of_month": schedule.day_of_month,
            },
            holdout_percent=campaign.holdout_percent,
            survey=dict(campaign.survey) if campaign.survey else None,
            next_run_at=campaign.next_run_at,
            runs=campaign.runs,
            created_at=campaign.created_at,
            updated_at=campaign.updated_at,
            version=campaign.version,
        )


def _trigger_out(audience: rules.Audience) -> dict[str, Any]:
    """The trigger as sent: `kind` and `segment_id`, plus `tier` and `within_days` for the
    triggers that take them."""
    trigger: dict[str, Any] = {
        "kind": audience.trigger.value if audience.trigger else None,
        "segment_id": audience.trigger_segment_id,
    }
    if audience.tier is not None:
        trigger["tier"] = audience.tier
    if audience.within_days is not None:
        trigger["within_days"] = audience.within_days
    return trigger


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None


class UpliftOut(BaseModel):
    treatment_rate: float
    holdout_rate: float
    difference: float = Field(description="Treatment minus holdout conversion rate.")
    ci95_low: float
    ci95_high: float


class CampaignResultsOut(BaseModel):
    campaign_id: str
    state: str
    sent: int
    delivered: int
    held_out: int
    skipped_no_consent: int
    skipped_over_cap: int
    skipped_offer_ended: int = Field(
        description="Messages not sent because the campaign's coupon offer was no longer live."
    )
    deferred: int = Field(
        description="Messages waiting for the tenant's quiet hours to end; once sent (or"
        " skipped) each counts under its outcome instead."
    )
    redeemed: int = Field(description="Coupons the campaign issued that were redeemed.")
    conversions: int = Field(description="Recipients who bought within the attribution window.")
    purchases: int
    revenue: Decimal
    points_cost: int = Field(
        description="Points credited by redeemed coupons of the campaign (bonus-points offers)."
    )
    holdout_conversions: int
    uplift: UpliftOut | None = Field(
        None, description="Null until both the treatment and the holdout group have members."
    )
