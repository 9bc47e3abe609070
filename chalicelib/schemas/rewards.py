"""Rewards catalogue request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from chalicelib.domain.rewards import Reward, RewardChanges, RewardRedemptionRecord
from chalicelib.schemas.common import Instant, RequestBody
from chalicelib.schemas.loyalty import MAX_POINTS
from chalicelib.services.rewards import RewardDraft

RewardName = Annotated[str, StringConstraints(min_length=1, max_length=120)]
Description = Annotated[str, StringConstraints(max_length=1000)]
TierName = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MAX_COUNT = 1_000_000_000
PointsCost = Annotated[int, Field(ge=1, le=MAX_POINTS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Limit = Annotated[int, Field(ge=1, le=MAX_COUNT)]


class RewardCreate(RequestBody):
    name: RewardName
    description: Description | None = None
    points_cost: PointsCost
    stock: Count | None = Field(None, description="Units left; omit or null for unlimited.")
    per_customer_limit: Limit | None = Field(
        None, description="How often one customer may redeem it; null: no limit."
    )
    valid_from: Instant | None = None
    valid_until: Instant | None = Field(None, description="Exclusive end of validity.")
    tier_required: TierName | None = Field(
        None, description="The lowest tier that may redeem it (a tier of the loyalty config)."
    )
    active: bool = True

    def to_draft(self) -> RewardDraft:
        return RewardDraft(**self.model_dump())


class RewardPatch(RequestBody):
    """Fields sent replace; `null` clears an optional one (unlimited stock, no limit)."""

    name: RewardName | None = None
    description: Description | None = None
    points_cost: PointsCost | None = None
    stock: Count | None = None
    per_customer_limit: Limit | None = None
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    tier_required: TierName | None = None
    active: bool | None = None

    def to_changes(self) -> RewardChanges:
        return RewardChanges(fields={name: getattr(self, name) for name in self.model_fields_set})


class RewardOut(BaseModel):
    id: str
    name: str
    description: str | None
    points_cost: int
    stock: int | None = Field(description="Units left; null: unlimited.")
    per_customer_limit: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    tier_required: str | None
    active: bool
    redeemed_count: int = Field(description="Redemptions so far.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, reward: Reward) -> RewardOut:
        return cls(
            id=reward.id,
            name=reward.name,
            description=reward.description,
            points_cost=reward.points_cost,
            stock=reward.stock,
            per_customer_limit=reward.per_customer_limit,
            valid_from=reward.valid_from,
            valid_until=reward.valid_until,
            tier_required=reward.tier_required,
            active=reward.active,
            redeemed_count=reward.redeemed_count,
            created_at=reward.created_at,
            updated_at=reward.updated_at,
        )


class RewardPage(BaseModel):
    items: list[RewardOut]
    next_cursor: str | None


class RedemptionPage(BaseModel):
    items: list[RewardRedemptionRecord]
    next_cursor: str | None
