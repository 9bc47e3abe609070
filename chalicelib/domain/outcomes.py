"""What the interaction and points use cases answer, and the receipts an idempotent
request stores of them. Pydantic models, because receipts are stored and read as JSON.

A receipt holds ids, counts and amounts only (never free text, attributes or anything
else personal): a repeat of the request rebuilds the answer from the items it names."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from chalicelib.domain.interactions import Interaction
from chalicelib.domain.loyalty import LedgerEntry


class InteractionRecord(BaseModel):
    id: str
    customer_id: str
    type: str
    channel: str | None
    occurred_at: datetime
    recorded_at: datetime
    location_id: str | None
    attributes: dict[str, Any]
    amount: str | None = Field(None, description="Decimal amount, as text (purchase, refund).")
    currency: str | None = None
    order_id: str | None = None
    items: list[dict[str, Any]] | None = None
    rating: int | None = None
    nps: int | None = None
    text: str | None = None
    name: str | None = None
    coupon_code: str | None = Field(None, description="The coupon redeemed with a purchase.")
    points: int = Field(0, description="Points this interaction earned (negative: reversed).")

    @classmethod
    def of(cls, interaction: Interaction) -> InteractionRecord:
        return cls(
            id=interaction.id,
            customer_id=interaction.customer_id,
            type=interaction.type.value,
            channel=interaction.channel.value if interaction.channel else None,
            occurred_at=interaction.occurred_at,
            recorded_at=interaction.recorded_at,
            location_id=interaction.location_id,
            attributes=interaction.attributes,
            points=interaction.points,
            **interaction.details,
        )


class LedgerEntryRecord(BaseModel):
    id: str = Field(description="Position in the customer's ledger (sorts chronologically).")
    type: str = Field(description="earn, redeem, reward, adjust, expire, reverse or tier_change.")
    points: int = Field(description="Signed: credits positive, debits negative.")
    balance_after: int
    at: datetime
    actor: str = Field(description="The API key id that caused it, or `system`.")
    interaction_id: str | None = None
    reference: str | None = None
    reason: str | None = None
    tier: str | None = Field(None, description="The new tier (tier_change).")

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerEntryRecord:
        return cls(
            id=entry.sequence,
            type=entry.type.value,
            points=entry.points,
            balance_after=entry.balance_after,
            at=entry.at,
            actor=entry.actor,
            interaction_id=entry.interaction_id,
            reference=entry.reference,
            reason=entry.reason,
            tier=entry.tier,
        )


class PointsMovement(BaseModel):
    """The entries a redemption or adjustment wrote (expiries it applied first included)."""

    balance: int
    entries: list[LedgerEntryRecord]


class ExpiringPoints(BaseModel):
    expires_on: date
    points: int


class NextTier(BaseModel):
    name: str
    threshold: str
    missing: str = Field(description="Lifetime points or spend still needed to reach it.")


class PointsSummary(BaseModel):
    balance: int = Field(description="Available now: expired lots never count.")
    lifetime_earned: int
    expiring: list[ExpiringPoints] = Field(description="Points expiring in the next 30 days.")
    tier: str
    next_tier: NextTier | None
    clawback_pending: int = Field(description="Reversed points still to settle from earnings.")


class BatchItemOutcome(BaseModel):
    index: int
    outcome: str = Field(description="created, duplicate or failed.")
    interaction: InteractionRecord | None = None
    error: str | None = Field(None, description="The domain error's kind (failed items).")
    detail: str | None = None


class BatchResult(BaseModel):
    created: int
    duplicates: int
    failed: int
    items: list[BatchItemOutcome]


class InteractionReceipt(BaseModel):
    """Names a recorded interaction (its customer, time and id: its key)."""

    customer_id: str
    interaction_id: str
    occurred_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_stored_record(cls, data: Any) -> Any:
        """Records stored before receipts held the whole InteractionRecord (ids as `id`);
        they expire within a day of the change, until then they are read as receipts."""
        if isinstance(data, dict) and "interaction_id" not in data and "id" in data:
            return {**data, "interaction_id": data["id"]}
        return data

    @classmethod
    def of(cls, record: InteractionRecord) -> InteractionReceipt:
        return cls(
            customer_id=record.customer_id,
            interaction_id=record.id,
            occurred_at=record.occurred_at,
        )


class MovementReceipt(BaseModel):
    """Names the ledger entries a redemption or adjustment wrote (by their positions in
    the customer's ledger; the customer is the request's)."""

    balance: int
    entries: list[str]

    @model_validator(mode="before")
    @classmethod
    def _from_stored_movement(cls, data: Any) -> Any:
        """A PointsMovement stored before receipts: its entries are whole records."""
        if isinstance(data, dict) and isinstance(data.get("entries"), list):
            entries = [e["id"] if isinstance(e, dict) else e for e in data["entries"]]
            return {**data, "entries": entries}
        return data


class BatchItemReceipt(BaseModel):
    index: int
    outcome: str
    interaction: InteractionReceipt | None = None
    error: str | None = None
    detail: str | None = None


class BatchReceipt(BaseModel):
    created: int
    duplicates: int
    failed: int
    items: list[BatchItemReceipt]

    @classmethod
    def of(cls, result: BatchResult) -> BatchReceipt:
        return cls(
            created=result.created,
            duplicates=result.duplicates,
            failed=result.failed,
            items=[
                BatchItemReceipt(
                    index=item.index,
                    outcome=item.outcome,
                    interaction=InteractionReceipt.of(item.interaction)
                    if item.interaction
                    else None,
                    error=item.error,
                    detail=item.detail,
                )
                for item in result.items
            ],
        )
