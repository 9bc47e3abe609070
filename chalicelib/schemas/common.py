"""Shapes shared by every route."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from chalicelib.domain.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


class RequestBody(BaseModel):
    """Base of request bodies: strict JSON types, unknown fields rejected, and no number
    field (free-form `attributes` values included) takes NaN or Infinity."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        str_strip_whitespace=True,
        allow_inf_nan=False,
        defer_build=True,
    )


class QueryParameters(BaseModel):
    """Base of query strings: values arrive as text, unknown parameters are rejected, and a
    number parameter refuses `nan` and `inf`."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, allow_inf_nan=False, defer_build=True
    )


class PageQuery(QueryParameters):
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size.")
    cursor: str | None = Field(
        None, max_length=2048, description="Opaque cursor from a previous page's next_cursor."
    )


SUPPORTED_YEARS = range(1900, 3000)
DayOrInstant = TypeVar("DayOrInstant", date, datetime)


def _in_supported_years(value: DayOrInstant) -> DayOrInstant:
    """Days and instants far from now cannot be converted to UTC, shifted by a window or
    stored as a sortable (four-digit year) key; they are refused as input instead."""
    if value.year not in SUPPORTED_YEARS:
        first, last = SUPPORTED_YEARS[0], SUPPORTED_YEARS[-1]
        raise ValueError(f"the year must be between {first} and {last}")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_in_supported_years)]
"""Every date-time an API input takes: with an offset, within SUPPORTED_YEARS."""
Day = Annotated[date, AfterValidator(_in_supported_years)]
"""Every calendar day an API input takes (a range's ends), within SUPPORTED_YEARS."""


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path of the offending field or parameter.")
    message: str
    code: str


class Problem(BaseModel):
    """RFC 9457 problem details, served as application/problem+json."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str
    errors: list[FieldProblem] | None = Field(None, description="Each invalid field (422).")
    field: str | None = Field(None, description="The unique field already in use (409).")
    existing_id: str | None = Field(None, description="Who holds that unique value (409).")
    status_now: str | None = Field(None, description="The ticket's status (409 transition).")
    allowed_transitions: list[str] | None = Field(
        None, description="The statuses the ticket may move to now (409 transition)."
    )
    reason: str | None = Field(
        None,
        description="Why a reward cannot be redeemed now (inactive, not_yet_valid, "
        "no_longer_valid, tier_too_low: 409 reward-unavailable) or a coupon cannot "
        "(expired, redeemed: 409 coupon-unusable).",
    )
