"""Points request and response bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from chalicelib.domain.outcomes import LedgerEntryRecord
from chalicelib.schemas.common import RequestBody

Reason = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MAX_POINTS = 1_000_000_000


def _not_zero(points: int) -> int:
    if points == 0:
        raise ValueError("points must not be 0")
    return points


class RedeemBody(RequestBody):
    points: Annotated[int, Field(ge=1, le=MAX_POINTS)]
    reason: Reason
    reference: Reference | None = Field(None, description="Your reference, e.g. a voucher id.")


class AdjustBody(RequestBody):
    points: Annotated[
        int,
        Field(ge=-MAX_POINTS, le=MAX_POINTS, description="Signed: adds or deducts; not 0."),
        AfterValidator(_not_zero),
    ]
    reason: Reason
    reference: Reference | None = None


class LedgerPage(BaseModel):
    items: list[LedgerEntryRecord]
    next_cursor: str | None
