"""Item models of feedback and NPS (issue 15). See docs/data-model.md ("Feedback and NPS")."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.dal.models import DataTableModel, InteractionItem


class AllFeedback(GlobalSecondaryIndex["FeedbackInteractionItem"]):
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class FeedbackByCategory(GlobalSecondaryIndex["FeedbackInteractionItem"]):
    class Meta:
        index_name = "gsi4"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class FeedbackInteractionItem(InteractionItem):
    """A `feedback` interaction: the interaction item itself, also listed tenant-wide on
    gsi3 and, when it carries an NPS score, under its category on gsi4."""

    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)

    all_feedback = AllFeedback()
    by_category = FeedbackByCategory()


class SurveyAnswerItem(DataTableModel):
    """Claims a campaign's survey for one customer: put, on condition it is new, in the
    transaction that records the answer. Holds ids only."""

    entity = UnicodeAttribute(default="survey_answer")
    tenant_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    interaction_id = UnicodeAttribute()
    answered_at = UTCDateTimeAttribute()


class FeedbackCountedItem(DataTableModel):
    """Marks a feedback answer as added to the segment and campaign counters (written with
    the counters, on condition it is new): a redelivered stream record adds nothing."""

    entity = UnicodeAttribute(default="feedback_counted")
    ttl = NumberAttribute(null=True)


class NpsCounterItem(DataTableModel):
    """One segment's or campaign's NPS and CSAT figures of one UTC day: number attributes
    named like the analytics counters', only ever moved by `ADD`."""

    entity = UnicodeAttribute(default="nps_counter")
