"""Feedback and NPS (issue 15): the tenant-wide feedback listing (gsi3, gsi4), survey
answer claims and the per-segment and per-campaign daily counters. See docs/data-model.md
("Feedback and NPS")."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path, Value
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings, transaction_connection
from chalicelib.dal.cursors import page_of
from chalicelib.dal.feedback_models import (
    FeedbackCountedItem,
    FeedbackInteractionItem,
    NpsCounterItem,
    SurveyAnswerItem,
)
from chalicelib.dal.transactions import ConditionsFailed, LabelledTransaction, commit_with_retry
from chalicelib.domain.clock import sortable_timestamp
from chalicelib.domain.feedback import CAMPAIGN_DETAIL, NpsCategory, category_in
from chalicelib.domain.interactions import Interaction, InteractionType
from chalicelib.domain.paging import PageRequest
from chalicelib.domain.tenancy import TenantId

SURVEY_ANSWER_LABEL = "survey_answer"
COUNTED_TTL = timedelta(days=7)
"""Longer than a stream record can be redelivered (the stream keeps records 24 hours)."""
MAX_COUNTERS_PER_TRANSACTION = 99


def index_feedback(
    tenant: TenantId, interaction: Interaction, item: FeedbackInteractionItem
) -> None:
    """Lists a feedback interaction's item on gsi3 and, with an NPS score, on gsi4 under
    its category."""
    sort_key = f"{sortable_timestamp(interaction.occurred_at)}#{interaction.id}"
    item.gsi3pk, item.gsi3sk = keys.feedback_pk(tenant), sort_key
    category = category_in(interaction.details)
    if category is not None:
        item.gsi4pk = keys.feedback_by_category_pk(tenant, category)
        item.gsi4sk = sort_key


def survey_answer(
    tenant: TenantId, interaction: Interaction
) -> tuple[SurveyAnswerItem, Condition] | None:
    """The claim a feedback answer to a campaign's survey puts, on condition it is new."""
    campaign_id = interaction.details.get(CAMPAIGN_DETAIL)
    if interaction.type is not InteractionType.FEEDBACK or not campaign_id:
        return None
    item = SurveyAnswerItem(
        pk=keys.survey_answer_pk(tenant, str(campaign_id), interaction.customer_id),
        sk=keys.SURVEY_ANSWER_SK,
        tenant_id=tenant,
        campaign_id=str(campaign_id),
        customer_id=interaction.customer_id,
        interaction_id=interaction.id,
        answered_at=interaction.recorded_at,
    )
    return item, SurveyAnswerItem.pk.does_not_exist()


def list_feedback(
    tenant: TenantId,
    category: NpsCategory | None,
    first: date,
    last: date,
    page: PageRequest,
) -> tuple[list[FeedbackInteractionItem], str | None]:
    """Newest first, `first`..`last` (UTC days, inclusive): one Query on gsi3 (all
    feedback) or gsi4 (one category)."""
    bound_settings()
    lower = first.isoformat()
    upper = (last + timedelta(days=1)).isoformat()
    index: GlobalSecondaryIndex[FeedbackInteractionItem]
    if category is None:
        index, pk, names = FeedbackInteractionItem.all_feedback, keys.feedback_pk(tenant), "gsi3"
        sort_key = FeedbackInteractionItem.gsi3sk
    else:
        index = FeedbackInteractionItem.by_category
        pk, names = keys.feedback_by_category_pk(tenant, category), "gsi4"
        sort_key = FeedbackInteractionItem.gsi4sk
    return page_of(
        tenant,
        f"feedback:{category or 'all'}:{lower}:{upper}",
        page,
        lambda start, limit: index.query(
            pk,
            sort_key.between(lower, upper),
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        (f"{names}pk", f"{names}sk"),
    )


def _add_actions(figures: dict[str, Decimal]) -> list[Action]:
    from chalicelib.dal.analytics import _ExactNumber

    number = _ExactNumber()
    actions: list[Action] = [NpsCounterItem.entity.set("nps_counter")]
    for name, value in sorted(figures.items()):
        actions.append(Path([name]).add(Value(value, attribute=number)))
    return actions


def count_answer(
    tenant: TenantId,
    interaction_id: str,
    day: date,
    segment_ids: Iterable[str],
    campaign_id: str | None,
    figures: dict[str, Decimal],
) -> int:
    """Add one answer's figures to the day item of each counter partition (a segment's or
    a campaign's), with a marker per transaction of up to 99 counters on condition it is
    new, so a redelivered record adds nothing. Answers how many parts it committed now."""
    bound_settings()
    pks = sorted({keys.nps_segment_pk(tenant, segment) for segment in segment_ids})
    if campaign_id:
        pks.append(keys.nps_campaign_pk(tenant, campaign_id))
    parts = [
        pks[start : start + MAX_COUNTERS_PER_TRANSACTION]
        for start in range(0, len(pks), MAX_COUNTERS_PER_TRANSACTION)
    ]
    forgotten = int((datetime.combine(day, time(0), tzinfo=UTC) + COUNTED_TTL).timestamp())
    committed = 0
    for position, part in enumerate(parts):

        def build(part: list[str] = part, position: int = position) -> LabelledTransaction:
            transaction = LabelledTransaction()
            marker = FeedbackCountedItem(
                pk=keys.feedback_counted_pk(tenant, interaction_id),
                sk=f"{keys.FEEDBACK_COUNTED_SK}#{position}",
                ttl=forgotten,
            )
            transaction.put("counted", marker, condition=FeedbackCountedItem.pk.does_not_exist())
            for pk in part:
                counter = NpsCounterItem(pk=pk, sk=keys.analytics_day_sk(day.isoformat()))
                transaction.update(f"counter:{pk}", counter, _add_actions(figures))
            return transaction

        try:
            commit_with_retry(build)
        except ConditionsFailed as error:
            if {failure.label for failure in error.failures} != {"counted"}:
                raise
            continue
        committed += 1
    return committed


def read_segment_days(
    tenant: TenantId, segment_id: str, first: str, last: str
) -> dict[str, dict[str, Decimal]]:
    """A segment's daily figures, `first`..`last` (ISO days): one Query."""
    return _read_days(keys.nps_segment_pk(tenant, segment_id), first, last)


def read_campaign_days(
    tenant: TenantId, campaign_id: str, first: str, last: str
) -> dict[str, dict[str, Decimal]]:
    """A campaign's daily figures, `first`..`last` (ISO days): one Query."""
    return _read_days(keys.nps_campaign_pk(tenant, campaign_id), first, last)


def _read_days(pk: str, first: str, last: str) -> dict[str, dict[str, Decimal]]:
    from chalicelib.dal.analytics import _figures, _merge

    settings = bound_settings()
    client = transaction_connection().client
    prefix = len(keys.analytics_day_sk(""))
    request: dict[str, Any] = {
        "TableName": settings.data_table,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lower AND :upper",
        "ExpressionAttributeValues": {
            ":pk": {"S": pk},
            ":lower": {"S": keys.analytics_day_sk(first)},
            ":upper": {"S": keys.analytics_day_sk(last)},
        },
    }
    rows: dict[str, dict[str, Decimal]] = {}
    while True:
        answer = client.query(**request)
        for item in answer.get("Items", []):
            _merge(rows.setdefault(item["sk"]["S"][prefix:], {}), _figures(item))
        start = answer.get("LastEvaluatedKey")
        if not start:
            return rows
        request["ExclusiveStartKey"] = start
