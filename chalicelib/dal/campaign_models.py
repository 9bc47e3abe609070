"""PynamoDB item models of campaigns (issue 15): the campaign, its counter shards, and the
items in a recipient's partition (message, frequency-cap window, conversion markers)."""

from __future__ import annotations

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.dal.models import DataTableModel


class CampaignsByDue(GlobalSecondaryIndex["CampaignItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class CampaignsByEntry(GlobalSecondaryIndex["CampaignItem"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class DeferredCampaignMessages(GlobalSecondaryIndex["CampaignMessageItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class CampaignItem(DataTableModel):
    """A campaign (`T#{t}#CAMPAIGNS`, sk its id). Listed in gsi1 under
    `T#{t}#CAMPAIGNS#DUE` / `{next_run_at}#{id}` while scheduled or running with a run due,
    and, while a `segment.entered` campaign runs, in gsi2 under
    `T#{t}#CAMPAIGNS#ENTERED#{segment}` / `{id}` (a `tier_changed` or `ticket_resolved`
    campaign under `T#{t}#CAMPAIGNS#TRIGGER#{kind}` / `{id}`)."""

    audit_resource = "campaign"
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="campaign")
    tenant_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    state = UnicodeAttribute()
    document = UnicodeAttribute()
    next_run_at = UTCDateTimeAttribute(null=True)
    progress = UnicodeAttribute(null=True)
    runs = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_due = CampaignsByDue()
    by_entry = CampaignsByEntry()


class CampaignStatsItem(DataTableModel):
    """One shard of a campaign's counters (`T#{t}#CMPSTATS#{id}#{nn}`, sk `STATS`); the
    counters are attributes moved only by `ADD`."""

    entity = UnicodeAttribute(default="campaign_stats")


class CampaignMessageItem(DataTableModel):
    """One campaign message to one customer (`T#{t}#CUS#{c}`, sk `MSG#{run_at}#{id}`): sent,
    held out (the control group) or skipped (no consent, over the cap, offer ended); or, while
    deferred by quiet hours, in gsi1 under `T#{t}#CAMPAIGNS#DEFERRED` /
    `{run_at}#{id}#{customer}`. A sent message of a coupon campaign names the coupon it
    issued (`coupon_code`)."""

    audit_resource = "campaign_message"
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="campaign_message")
    tenant_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    event_id = UnicodeAttribute(null=True)
    offer_id = UnicodeAttribute(null=True)
    coupon_code = UnicodeAttribute(null=True)
    delivered_at = UTCDateTimeAttribute(null=True)
    counted_at = UTCDateTimeAttribute(null=True)
    detail = MapAttribute[str, str](null=True)

    deferred = DeferredCampaignMessages()


class CampaignRunItem(DataTableModel):
    """One run of a campaign (`T#{t}#CMPRUN#{id}`, sk `RUN#{run_at}`): its pages the send
    workers settled, moved only by `ADD` together with a page's marker."""

    entity = UnicodeAttribute(default="campaign_run")
    pages_done = NumberAttribute(null=True)
    pages_failed = NumberAttribute(null=True)


class CampaignPageItem(DataTableModel):
    """Marks one page of a run settled (`RUN#{run_at}#PAGE#{n}`): a redelivered page
    message counts nothing again."""

    entity = UnicodeAttribute(default="campaign_page")
    outcome = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    ttl = NumberAttribute(null=True)


class CampaignCapItem(DataTableModel):
    """A customer's campaign messages in one frequency-cap window (`MSGCAP#{start}`)."""

    entity = UnicodeAttribute(default="campaign_cap")
    messages = NumberAttribute(default=0)
    ttl = NumberAttribute(null=True)


class CampaignConversionItem(DataTableModel):
    """Marks a conversion counted once: `MSGCONV#{campaign}` (the customer converted) or
    `MSGCONV#{campaign}#{interaction}` (that purchase counted)."""

    entity = UnicodeAttribute(default="campaign_conversion")
    campaign_id = UnicodeAttribute()
    group = UnicodeAttribute()
