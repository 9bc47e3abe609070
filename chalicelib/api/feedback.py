"""Feedback and NPS routes (issue 15): record an answer, list answers for follow-up, NPS
and CSAT per period for the tenant, a segment or a campaign."""

from __future__ import annotations

from chalicelib.api.access import holds_app_credentials
from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.domain.paging import PageRequest
from chalicelib.schemas.analytics import PeriodOut
from chalicelib.schemas.feedback import (
    FeedbackCreate,
    FeedbackListQuery,
    FeedbackOut,
    FeedbackPage,
    NpsFiguresOut,
    NpsOut,
    NpsQuery,
)
from chalicelib.services import feedback as service

feedback_api = Operations(__name__)


@feedback_api.operation(
    "POST",
    "/v1/customers/{customer_id}/feedback",
    summary="Record a survey answer",
    tag="feedback",
    body=FeedbackCreate,
    response=FeedbackOut,
    status=201,
    extra_responses=(404, 409),
)
def record_feedback(call: Call[FeedbackCreate, None], customer_id: str) -> Reply:
    """Records a `feedback` interaction (on the timeline and in analytics) with the
    customer's segments at the time. With `campaign_id` it answers that campaign's survey,
    once per customer: a second answer is 409 `survey-already-answered` and records
    nothing. A repeat with the same `Idempotency-Key` answers the first result."""
    record = service.record_feedback(
        call.tenant,
        customer_id,
        call.body.to_draft(),
        call.actor,
        call.idempotency_key(),
        app_credentials=holds_app_credentials(call.principal),
    )
    return Reply(FeedbackOut.recorded(record, call.body), 201)


@feedback_api.operation(
    "GET",
    "/v1/feedback",
    summary="Feedback for follow-up",
    tag="feedback",
    query=FeedbackListQuery,
    response=FeedbackPage,
)
def list_feedback(call: Call[None, FeedbackListQuery]) -> Reply:
    """The tenant's feedback answers, newest first, within the UTC days `from`..`to`
    (default the last 30, at most 366), optionally of one NPS `category`."""
    query = call.query
    page = service.list_feedback(
        call.tenant, query.category, query.from_, query.to, PageRequest(query.limit, query.cursor)
    )
    return Reply(
        FeedbackPage(items=[FeedbackOut.of(i) for i in page.items], next_cursor=page.next_cursor)
    )


@feedback_api.operation(
    "GET",
    "/v1/analytics/nps",
    summary="NPS and CSAT per period",
    tag="analytics",
    query=NpsQuery,
    response=NpsOut,
    extra_responses=(404,),
)
def get_nps(call: Call[None, NpsQuery]) -> Reply:
    """Responses, promoters, passives, detractors, NPS and average CSAT per day, ISO week or
    month over `from`..`to` (UTC days, at most 366; default the last 30). Without a filter
    the tenant's figures (CSAT includes ticket ratings); with `segment_id` the answers
    given while the customer was a member of the segment; with `campaign_id` the answers
    to that campaign's survey. Kept current by the data stream within seconds."""
    query = call.query
    report = service.nps_report(
        call.tenant, query.from_, query.to, query.granularity, query.segment_id, query.campaign_id
    )
    return Reply(
        NpsOut(
            granularity=query.granularity,
            segment_id=query.segment_id,
            campaign_id=query.campaign_id,
            period=PeriodOut.of(report.period),
            total=NpsFiguresOut.of(report.total),
            points=[NpsFiguresOut.of(point) for point in report.points],
        )
    )
