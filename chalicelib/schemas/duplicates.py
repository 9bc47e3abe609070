"""Duplicate detection's query and response bodies (issue 16)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from chalicelib.domain.duplicates import REASON_WEIGHTS, MatchProfile, Reason
from chalicelib.schemas.common import PageQuery

if TYPE_CHECKING:
    from chalicelib.services.duplicates import DuplicateCandidate, DuplicatePair

SCORE_DESCRIPTION = (
    "0-100: each reason's weight ("
    + ", ".join(f"{reason.value} {weight}" for reason, weight in REASON_WEIGHTS.items())
    + ") combined as independent evidence, 100 * (1 - product of (1 - weight/100))."
)


class DuplicateQuery(PageQuery):
    min_score: int = Field(0, ge=0, le=100, description="Only pairs scoring at least this.")


class CustomerSummaryOut(BaseModel):
    id: str
    name: str | None
    email: str | None
    phone: str | None
    created_at: datetime | None

    @classmethod
    def of(cls, profile: MatchProfile) -> CustomerSummaryOut:
        return cls(
            id=profile.customer_id,
            name=profile.name,
            email=profile.email,
            phone=profile.phone,
            created_at=profile.created_at,
        )


class DuplicateCandidateOut(BaseModel):
    id: str = Field(description="The pair's id (for dismissing it).")
    customer_id: str = Field(description="The other profile of the pair.")
    score: int = Field(ge=0, le=100, description=SCORE_DESCRIPTION)
    reasons: list[Reason]
    customer: CustomerSummaryOut | None = Field(
        description="The other profile, briefly (null if it went since it was listed)."
    )

    @classmethod
    def of(cls, candidate: DuplicateCandidate) -> DuplicateCandidateOut:
        pair = candidate.pair
        return cls(
            id=pair.pair_id,
            customer_id=pair.other_customer_id,
            score=pair.score,
            reasons=list(pair.reasons),
            customer=CustomerSummaryOut.of(candidate.other) if candidate.other else None,
        )


class DuplicateCandidatePage(BaseModel):
    items: list[DuplicateCandidateOut]
    next_cursor: str | None


class DuplicatePairOut(BaseModel):
    id: str
    customer_ids: list[str] = Field(description="The two profiles, in id order.")
    score: int = Field(ge=0, le=100, description=SCORE_DESCRIPTION)
    reasons: list[Reason]
    dismissed: bool
    customers: list[CustomerSummaryOut | None] = Field(
        description="The two profiles, briefly, in the order of customer_ids."
    )

    @classmethod
    def of(cls, found: DuplicatePair) -> DuplicatePairOut:
        pair = found.pair
        return cls(
            id=pair.pair_id,
            customer_ids=[pair.customer_a, pair.customer_b],
            score=pair.score,
            reasons=list(pair.reasons),
            dismissed=pair.dismissed,
            customers=[CustomerSummaryOut.of(p) if p else None for p in found.profiles],
        )


class DuplicatePairPage(BaseModel):
    items: list[DuplicatePairOut]
    next_cursor: str | None
