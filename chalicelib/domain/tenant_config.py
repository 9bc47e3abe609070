"""A tenant's configuration: every setting has a documented default, so a new tenant works
without configuring anything. Stored whole and versioned; read through
`chalicelib.services.tenant_config.get_tenant_config`."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class Rounding(StrEnum):
    DOWN = "down"
    NEAREST = "nearest"
    UP = "up"


class TierBasis(StrEnum):
    LIFETIME_POINTS = "lifetime_points"
    ROLLING_12_MONTH_SPEND = "rolling_12_month_spend"


class TierRule(_Section):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    threshold: Annotated[Decimal, Field(ge=0, description="Lifetime points or 12-month spend.")]
    multiplier: Annotated[Decimal, Field(gt=0, le=10)] = Decimal(1)


def _default_tiers() -> list[TierRule]:
    return [
        TierRule(name="member", threshold=Decimal(0)),
        TierRule(name="silver", threshold=Decimal(1_000)),
        TierRule(name="gold", threshold=Decimal(5_000)),
        TierRule(name="platinum", threshold=Decimal(20_000)),
    ]


class LoyaltyConfig(_Section):
    points_per_currency_unit: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal(1)
    rounding: Rounding = Rounding.DOWN
    points_by_interaction_type: dict[str, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=dict, description="Fixed points per interaction type, e.g. feedback: 10."
    )
    validity_days: Annotated[int, Field(ge=1, le=3650)] = 365
    tier_basis: TierBasis = TierBasis.LIFETIME_POINTS
    tiers: Annotated[list[TierRule], Field(min_length=1, max_length=10)] = Field(
        default_factory=_default_tiers
    )

    @model_validator(mode="after")
    def _tiers_ascend_from_zero(self) -> LoyaltyConfig:
        thresholds = [tier.threshold for tier in self.tiers]
        if thresholds[0] != 0 or thresholds != sorted(set(thresholds)):
            raise ValueError("tier thresholds must start at 0 and strictly increase")
        if len({tier.name for tier in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must be distinct")
        return self


class SlaTarget(_Section):
    first_response_hours: Annotated[Decimal, Field(gt=0, le=8760)]
    resolution_hours: Annotated[Decimal, Field(gt=0, le=8760)]


def _default_sla() -> dict[str, SlaTarget]:
    return {
        "urgent": SlaTarget(first_response_hours=Decimal(1), resolution_hours=Decimal(8)),
        "high": SlaTarget(first_response_hours=Decimal(4), resolution_hours=Decimal(24)),
        "normal": SlaTarget(first_response_hours=Decimal(8), resolution_hours=Decimal(72)),
        "low": SlaTarget(first_response_hours=Decimal(24), resolution_hours=Decimal(120)),
    }


class TicketsConfig(_Section):
    sla: dict[str, SlaTarget] = Field(default_factory=_default_sla)
    reopen_window_days: Annotated[int, Field(ge=0, le=365)] = 7


class LifecycleConfig(_Section):
    """Days without activity that move a customer from active to dormant to churned, and
    how long after the first purchase a customer counts as new."""

    dormant_after_days: Annotated[int, Field(ge=1, le=3650)] = 90
    churned_after_days: Annotated[int, Field(ge=1, le=3650)] = 180
    new_customer_days: Annotated[int, Field(ge=1, le=3650)] = 30

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleConfig:
        if self.churned_after_days <= self.dormant_after_days:
            raise ValueError("churned_after_days must be greater than dormant_after_days")
        return self


def _ascending(values: list[int]) -> list[int]:
    if values != sorted(set(values)):
        raise ValueError("thresholds must strictly increase")
    return values


FourThresholds = Annotated[
    list[Annotated[int, Field(ge=0, le=100_000_000)]], Field(min_length=4, max_length=4)
]


class RfmConfig(_Section):
    """RFM scoring thresholds (docs/data-model.md, "Segments"). Recency: days since the last
    purchase at most these for scores 5, 4, 3, 2 (else 1). Frequency (purchases) and
    monetary value (lifetime spend) at least these for scores 2, 3, 4, 5 (else 1)."""

    recency_days: FourThresholds = Field(default_factory=lambda: [30, 90, 180, 365])
    frequency: FourThresholds = Field(default_factory=lambda: [2, 3, 5, 10])
    monetary: FourThresholds = Field(default_factory=lambda: [100, 250, 500, 1000])

    @model_validator(mode="after")
    def _thresholds_ascend(self) -> RfmConfig:
        for values in (self.recency_days, self.frequency, self.monetary):
            _ascending(values)
        return self


class SegmentsConfig(_Section):
    vip_min_spend: Annotated[Decimal, Field(ge=0)] = Decimal(1000)
    rfm: RfmConfig = Field(default_factory=RfmConfig)


class AuditConfig(_Section):
    """When the trail raises a `many_customers` alert: one key reading more than
    `distinct_customers_alert` different customers within `alert_window_minutes`."""

    distinct_customers_alert: Annotated[int, Field(ge=1, le=100_000)] = 200
    alert_window_minutes: Annotated[int, Field(ge=1, le=1_440)] = 60


class AppPurchasesConfig(_Section):
    """Caps on purchases recorded with app credentials (an app key or a customer token), so
    a leaked mobile credential cannot mint points without bound: the amount of one purchase,
    and the amounts one customer's purchases add up to per UTC day (of recording). Amounts
    are compared as numbers, whatever their currency. Merchant keys are not capped."""

    max_purchase_amount: Annotated[Decimal, Field(gt=0, le=10**12)] = Decimal(1000)
    max_daily_purchase_amount: Annotated[Decimal, Field(gt=0, le=10**12)] = Decimal(5000)


class QuietHoursConfig(_Section):
    """Campaign messages due between `start` and `end` (in `time_zone`; a window whose end
    is before its start runs over midnight) wait until it ends."""

    start: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "21:00"
    end: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "08:00"
    time_zone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone name, e.g. Europe/Berlin") from None
        return zone


class CampaignsConfig(_Section):
    """Campaign delivery and measurement (issue 15)."""

    quiet_hours: QuietHoursConfig | None = Field(
        None, description="None (the default): campaign messages go out at any hour."
    )
    max_messages_per_customer: Annotated[int, Field(ge=1, le=1000)] = 3
    frequency_window_hours: Annotated[int, Field(ge=1, le=24 * 31)] = 168
    attribution_window_days: Annotated[int, Field(ge=1, le=90)] = 7


class ImportsConfig(_Section):
    """Bulk imports (issue 16): phones without a country code are read as numbers of
    `default_country` (ISO 3166-1 alpha-2); without it such rows fail."""

    default_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None


class TenantConfig(_Section):
    loyalty: LoyaltyConfig = Field(default_factory=LoyaltyConfig)
    tickets: TicketsConfig = Field(default_factory=TicketsConfig)
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    app_purchases: AppPurchasesConfig = Field(default_factory=AppPurchasesConfig)
    campaigns: CampaignsConfig = Field(default_factory=CampaignsConfig)
    imports: ImportsConfig = Field(default_factory=ImportsConfig)
    webhook_url: HttpUrl | None = Field(
        None,
        description="Receives signed segment events. Deployed: https to a public host only "
        "(no user name or password, no private, loopback, link-local or reserved address).",
    )
    webhook_secret: Annotated[str, Field(min_length=16, max_length=128)] | None = Field(
        None,
        description="Signs each webhook POST (Standard Webhooks: `webhook-id`, "
        "`webhook-timestamp`, `webhook-signature: v1,{base64 HMAC-SHA256 of "
        "'{id}.{timestamp}.{body}'}`). `whsec_{base64}`: the key is the decoded bytes (as "
        "the Standard Webhooks libraries expect); any other text: its UTF-8 bytes. Without "
        "it, events are kept as failed (never sent unsigned).",
    )

    @field_validator("webhook_secret")
    @classmethod
    def _whsec_secret_is_base64(cls, secret: str | None) -> str | None:
        if secret is not None and secret.startswith(WHSEC_PREFIX):
            try:
                webhook_signing_key(secret)
            except (ValueError, binascii.Error):
                raise ValueError("a whsec_ secret must be base64 after the prefix") from None
        return secret


WHSEC_PREFIX = "whsec_"


def webhook_signing_key(secret: str) -> bytes:
    """The HMAC key a `webhook_secret` stands for (Standard Webhooks: `whsec_{base64}`)."""
    if secret.startswith(WHSEC_PREFIX):
        key = base64.b64decode(secret.removeprefix(WHSEC_PREFIX), validate=True)
        if not key:
            raise ValueError("empty key")
        return key
    return secret.encode()


@dataclass(frozen=True)
class StoredConfig:
    """A tenant's configuration as stored, with the version that guards its replacement."""

    config: TenantConfig
    version: int
    updated_at: datetime | None
