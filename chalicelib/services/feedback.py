"""Feedback and NPS (issue 15): record an answer (a `feedback` interaction, through the
interaction recording path), list answers for follow-up, and NPS/CSAT per period for the
tenant, a segment or a campaign."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.dal import analytics as analytics_repository
from chalicelib.dal import feedback as repository
from chalicelib.dal import segments as segment_repository
from chalicelib.dal.loyalty import interaction_from_item
from chalicelib.domain import analytics
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import FieldIssue, InvalidInput, NotFound
from chalicelib.domain.feedback import SEGMENTS_DETAIL, NpsCategory
from chalicelib.domain.interactions import Interaction, InteractionDraft
from chalicelib.domain.nps import NpsFigures, nps_by_period
from chalicelib.domain.outcomes import InteractionRecord
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.segments import BUILT_IN_SEGMENTS
from chalicelib.domain.tenancy import TenantId
from chalicelib.services import loyalty


def _segments_now(tenant: TenantId, customer_id: str) -> Mapping[str, Any]:
    """The customer's memberships as the stream last computed them, kept on the answer so
    segment figures count the segments the customer was in when it answered."""
    state = segment_repository.get_state(tenant, customer_id, consistent=True)
    return {SEGMENTS_DETAIL: sorted(state.segments) if state else []}


def record_feedback(
    tenant: TenantId,
    customer_id: str,
    draft: InteractionDraft,
    actor: str,
    idempotency_key: str | None,
    app_credentials: bool = False,
) -> InteractionRecord:
    """A `feedback` interaction (timeline, analytics, audit), with the customer's segments
    at the time; an answer to a campaign's survey claims it in the same transaction (a
    second answer: SurveyAlreadyAnswered)."""
    return loyalty.record_interaction(
        tenant,
        customer_id,
        draft,
        actor,
        idempotency_key,
        app_credentials=app_credentials,
        details_when_recorded=lambda: _segments_now(tenant, customer_id),
    )


def list_feedback(
    tenant: TenantId,
    category: NpsCategory | None,
    first: date | None,
    last: date | None,
    page: PageRequest,
) -> Page[Interaction]:
    """Newest first within the UTC days `first`..`last` (default: the last 30)."""
    period = analytics.checked_period(first, last, utc_now().date())
    items, cursor = repository.list_feedback(tenant, category, period.first, period.last, page)
    return Page([interaction_from_item(item) for item in items], cursor)


@dataclass(frozen=True)
class NpsReport:
    period: analytics.Period
    total: NpsFigures
    points: list[NpsFigures]


def nps_report(
    tenant: TenantId,
    first: date | None,
    last: date | None,
    granularity: analytics.Granularity,
    segment_id: str | None = None,
    campaign_id: str | None = None,
) -> NpsReport:
    """The tenant's figures (the analytics counters), or those of the answers given by a
    segment's members or to a campaign's survey (their own counters): one Query each, or
    one per analytics shard for the tenant."""
    if segment_id is not None and campaign_id is not None:
        raise InvalidInput([FieldIssue("segment_id", "give segment_id or campaign_id, not both")])
    period = analytics.checked_period(first, last, utc_now().date())
    lower, upper = period.first.isoformat(), period.last.isoformat()
    if segment_id is not None:
        if segment_id not in BUILT_IN_SEGMENTS and not segment_repository.get_definition(
            tenant, segment_id
        ):
            raise NotFound(f"segment {segment_id} does not exist")
        rows = repository.read_segment_days(tenant, segment_id, lower, upper)
    elif campaign_id is not None:
        rows = repository.read_campaign_days(tenant, campaign_id, lower, upper)
    else:
        rows = analytics_repository.read_days(tenant, lower, upper)
    total, points = nps_by_period(rows, period, granularity)
    return NpsReport(period, total, points)
