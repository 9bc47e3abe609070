"""Feedback answers into the per-segment and per-campaign NPS counters (issue 15): the
data stream consumer calls `count_feedback` for each new `feedback` interaction. The
tenant-wide figures need nothing here: the analytics refresh counts every feedback
interaction already."""

from __future__ import annotations

from datetime import UTC
from typing import TypeGuard

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from chalicelib.domain.feedback import CAMPAIGN_DETAIL, SEGMENTS_DETAIL, answer_figures
from chalicelib.domain.interactions import InteractionType
from chalicelib.domain.tenancy import tenant_id
from chalicelib.streams.records import InteractionImage, ItemImage, customer_change


def is_new_feedback(image: ItemImage, record: DynamoDBRecord) -> TypeGuard[InteractionImage]:
    """A feedback interaction's INSERT (its later changes, e.g. an erasure, count nothing)."""
    return (
        record.event_name is DynamoDBRecordEventName.INSERT
        and isinstance(image, InteractionImage)
        and image.type == InteractionType.FEEDBACK.value
    )


def count_feedback(image: InteractionImage) -> int:
    """Adds the answer to the counters of the segments the customer was in when it
    answered (kept on the answer; an answer recorded through the interactions routes has
    none, and counts for the segments the customer is in now) and of its campaign. Each
    answer is added once however often its record is delivered. Answers the number of
    transactions committed now (0: nothing to count, or counted before)."""
    from chalicelib.dal import feedback as repository
    from chalicelib.dal import segments as segment_repository

    change = customer_change(image)
    figures = answer_figures(image.details)
    if change is None or not figures:
        return 0
    tenant = tenant_id(change.tenant_id)
    segments = image.details.get(SEGMENTS_DETAIL)
    if not isinstance(segments, list):
        state = segment_repository.get_state(tenant, change.customer_id, consistent=True)
        segments = sorted(state.segments) if state else []
    campaign = image.details.get(CAMPAIGN_DETAIL)
    return repository.count_answer(
        tenant,
        image.interaction_id,
        image.occurred_at.astimezone(UTC).date(),
        [str(segment) for segment in segments],
        str(campaign) if campaign else None,
        figures,
    )
