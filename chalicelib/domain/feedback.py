"""Feedback and NPS (issue 15): categories and the figures one answer adds (the report per
period is `chalicelib.domain.nps`). The figure names are the analytics counters' own
(`nps_*`, `csat_*`), so tenant, segment and campaign figures are read the same way. Imports
nothing heavy: the interaction write path uses it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

PROMOTER_MIN: Final = 9
DETRACTOR_MAX: Final = 6

CAMPAIGN_DETAIL = "campaign_id"
TICKET_DETAIL = "ticket_id"
SEGMENTS_DETAIL = "answered_in_segments"
"""The answering customer's segments when it answered, kept on the interaction's details
for the per-segment counters (not shown on the timeline)."""

FIGURE_NAMES = (
    "nps_responses",
    "nps_promoters",
    "nps_detractors",
    "csat_responses",
    "csat_sum",
)


class NpsCategory(StrEnum):
    DETRACTOR = "detractor"
    PASSIVE = "passive"
    PROMOTER = "promoter"


def category_of(nps: int) -> NpsCategory:
    """Promoters answer 9-10, detractors 0-6, passives 7-8."""
    if nps >= PROMOTER_MIN:
        return NpsCategory.PROMOTER
    if nps <= DETRACTOR_MAX:
        return NpsCategory.DETRACTOR
    return NpsCategory.PASSIVE


def _score(details: Mapping[str, Any], name: str) -> int | None:
    value = details.get(name)
    return int(value) if value is not None else None


def answer_figures(details: Mapping[str, Any]) -> dict[str, Decimal]:
    """What one feedback answer adds to the counters (empty when it carries no score)."""
    figures: dict[str, Decimal] = {}
    nps, rating = _score(details, "nps"), _score(details, "rating")
    if nps is not None:
        category = category_of(nps)
        figures["nps_responses"] = Decimal(1)
        figures["nps_promoters"] = Decimal(1 if category is NpsCategory.PROMOTER else 0)
        figures["nps_detractors"] = Decimal(1 if category is NpsCategory.DETRACTOR else 0)
    if rating is not None:
        figures["csat_responses"] = Decimal(1)
        figures["csat_sum"] = Decimal(rating)
    return figures


def category_in(details: Mapping[str, Any]) -> NpsCategory | None:
    nps = _score(details, "nps")
    return category_of(nps) if nps is not None else None
