"""The rewards catalogue: what a customer can exchange points for, and when. Plain Python,
but for the records a redemption answers (pydantic, as `outcomes`: receipts are JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from pydantic import BaseModel, Field

from chalicelib.domain.errors import FieldIssue, InvalidInput, RewardUnavailable
from chalicelib.domain.loyalty import tier_rank
from chalicelib.domain.tenant_config import LoyaltyConfig


@dataclass(frozen=True)
class Reward:
    """A catalogue entry. `stock` None is unlimited; `per_customer_limit` None is no limit.
    `version` changes with every change of the definition (not with redemptions), so a
    redemption can condition on the definition it read."""

    id: str
    name: str
    description: str | None
    points_cost: int
    stock: int | None
    per_customer_limit: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    tier_required: str | None
    active: bool
    redeemed_count: int
    created_at: datetime
    updated_at: datetime
    version: int = 0

    def check_redeemable(self, now: datetime) -> None:
        """Raise RewardUnavailable unless the reward can be redeemed at `now` (stock and
        the per-customer limit are conditions of the redemption's transaction)."""
        if not self.active:
            raise RewardUnavailable("inactive", f"reward {self.id} is not active")
        if self.valid_from is not None and now < self.valid_from:
            raise RewardUnavailable("not_yet_valid", f"reward {self.id} is valid from later")
        if self.valid_until is not None and now >= self.valid_until:
            raise RewardUnavailable("no_longer_valid", f"reward {self.id} is no longer valid")

    def check_tier(self, tier: str, config: LoyaltyConfig) -> None:
        """The customer's tier must be the required one or above (by the tenant's order)."""
        if self.tier_required is None:
            return
        if tier_rank(config, tier or config.tiers[0].name) < tier_rank(config, self.tier_required):
            raise RewardUnavailable(
                "tier_too_low", f"reward {self.id} needs tier {self.tier_required} or above"
            )

    def is_listed_for(self, tier: str, config: LoyaltyConfig, now: datetime) -> bool:
        """Whether a customer of `tier` could redeem it now (stock permitting)."""
        try:
            self.check_redeemable(now)
            self.check_tier(tier, config)
        except RewardUnavailable:
            return False
        return self.stock is None or self.stock > 0


@dataclass(frozen=True)
class RewardChanges:
    """A PATCH: `fields` holds the fields sent (as CustomerChanges); None clears an optional one."""

    fields: dict[str, object] = field(default_factory=dict)

    def sent(self) -> dict[str, object]:
        return dict(self.fields)


def check_window(valid_from: datetime | None, valid_until: datetime | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise InvalidInput([FieldIssue("valid_until", "must be after valid_from")])


def check_tier_known(tier_required: str | None, config: LoyaltyConfig) -> None:
    if tier_required is not None and tier_required not in {t.name for t in config.tiers}:
        names = ", ".join(t.name for t in config.tiers)
        raise InvalidInput([FieldIssue("tier_required", f"must be one of the tiers: {names}")])


def apply_changes(reward: Reward, changes: RewardChanges, now: datetime) -> Reward:
    """The reward with the fields sent replaced; required fields refuse null."""
    sent = changes.sent()
    for required in ("name", "points_cost", "active"):
        if required in sent and sent[required] is None:
            raise InvalidInput([FieldIssue(required, "may not be null")])
    changed = replace(reward, **sent, updated_at=now)  # type: ignore[arg-type]
    check_window(changed.valid_from, changed.valid_until)
    return changed


@dataclass(frozen=True)
class RewardRedemption:
    """One redemption of a reward by a customer, as recorded in the customer's partition."""

    id: str
    customer_id: str
    reward_id: str
    reward_name: str
    points: int
    balance_after: int
    redeemed_at: datetime
    actor: str


class RewardRedemptionRecord(BaseModel):
    """A redemption as the API answers it (and an idempotent repeat rebuilds it)."""

    id: str
    customer_id: str
    reward_id: str
    reward_name: str
    points: int = Field(description="Points debited.")
    balance_after: int = Field(description="The customer's available points after it.")
    redeemed_at: datetime
    actor: str = Field(description="The API key id that redeemed it.")

    @classmethod
    def of(cls, redemption: RewardRedemption) -> RewardRedemptionRecord:
        return cls(**asdict(redemption))


class RedemptionReceipt(BaseModel):
    """What the Idempotency table keeps of a redemption: its customer and id."""

    customer_id: str
    redemption_id: str
