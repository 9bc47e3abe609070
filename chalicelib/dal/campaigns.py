"""Campaigns (issue 15): the campaign items, their counters, and the per-recipient writes
of a run (message, cap window, outbox event, counters) in one transaction each."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.expressions.operand import Path, Value
from pynamodb.expressions.update import Action

from chalicelib.dal import events as event_repository
from chalicelib.dal import keys
from chalicelib.dal import offers as offer_repository
from chalicelib.dal.analytics import ExactNumber, figures_of, merge_figures
from chalicelib.dal.campaign_models import (
    CampaignCapItem,
    CampaignConversionItem,
    CampaignItem,
    CampaignMessageItem,
    CampaignPageItem,
    CampaignRunItem,
    CampaignStatsItem,
)
from chalicelib.dal.connection import bound_settings, transaction_connection
from chalicelib.dal.cursors import page_of
from chalicelib.dal.models import CustomerItem
from chalicelib.dal.transactions import ConditionsFailed, LabelledTransaction, commit_with_retry
from chalicelib.domain.analytics import Figures
from chalicelib.domain.campaigns import (
    DEFERRED,
    EVENT_TRIGGERS,
    Audience,
    Campaign,
    CampaignFigures,
    CampaignState,
    Channel,
    Every,
    PagesSettled,
    Progress,
    Schedule,
    ScheduleKind,
    TriggerKind,
)
from chalicelib.domain.errors import ConcurrentModification, PreconditionFailed
from chalicelib.domain.offers import Coupon
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.segments import SegmentEvent
from chalicelib.domain.tenancy import TenantId

_ACTIVE = frozenset({CampaignState.SCHEDULED, CampaignState.RUNNING})


def _document(campaign: Campaign) -> str:
    audience = campaign.audience
    schedule = campaign.schedule
    return json.dumps(
        {
            "audience": {
                "segment_id": audience.segment_id,
                "trigger": audience.trigger.value if audience.trigger else None,
                "trigger_segment_id": audience.trigger_segment_id,
                "tier": audience.tier,
                "within_days": audience.within_days,
            },
            "channel": campaign.channel.value,
            "template": campaign.template,
            "schedule": {
                "kind": schedule.kind.value,
                "at": schedule.at.isoformat() if schedule.at else None,
                "every": schedule.every.value if schedule.every else None,
                "time": schedule.time_of_day.isoformat() if schedule.time_of_day else None,
                "weekday": schedule.weekday,
                "day_of_month": schedule.day_of_month,
            },
            "holdout_percent": campaign.holdout_percent,
            "offer_id": campaign.offer_id,
            "survey": dict(campaign.survey) if campaign.survey else None,
        },
        separators=(",", ":"),
    )


def _progress_json(progress: Progress | None) -> str | None:
    if progress is None:
        return None
    document: dict[str, str | int | bool | None] = {
        "run_at": progress.run_at.isoformat(),
        "cursor": progress.after,
        "pages": progress.pages,
        "queued_all": progress.queued_all,
    }
    if progress.lot_day is not None:
        document["lot_day"] = progress.lot_day.isoformat()
    return json.dumps(document)


def _gsi2_key(tenant: TenantId, campaign: Campaign) -> str | None:
    """Where a running campaign that reacts to stream events is found: by its segment
    (`segment.entered`) or by its trigger kind (tier changes, resolved tickets)."""
    if campaign.state is not CampaignState.RUNNING:
        return None
    audience = campaign.audience
    if audience.trigger is TriggerKind.SEGMENT_ENTERED and audience.trigger_segment_id:
        return keys.campaigns_on_entry_pk(tenant, audience.trigger_segment_id)
    if audience.trigger in EVENT_TRIGGERS:
        return keys.campaigns_on_trigger_pk(tenant, audience.trigger.value)
    return None


def _to_item(tenant: TenantId, campaign: Campaign) -> CampaignItem:
    due = campaign.state in _ACTIVE and campaign.next_run_at is not None
    on_event = _gsi2_key(tenant, campaign)
    item = CampaignItem(
        pk=keys.campaigns_pk(tenant),
        sk=campaign.id,
        gsi1pk=keys.campaigns_due_pk(tenant) if due else None,
        gsi1sk=f"{campaign.next_run_at.isoformat()}#{campaign.id}"
        if due and campaign.next_run_at
        else None,
        gsi2pk=on_event,
        gsi2sk=campaign.id if on_event else None,
        tenant_id=tenant,
        campaign_id=campaign.id,
        name=campaign.name,
        state=campaign.state.value,
        document=_document(campaign),
        next_run_at=campaign.next_run_at,
        progress=_progress_json(campaign.progress),
        runs=campaign.runs,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
    )
    if campaign.version:
        item.version = campaign.version
    return item


def _to_campaign(item: CampaignItem) -> Campaign:
    document = json.loads(item.document)
    audience = document["audience"]
    schedule = document["schedule"]
    progress = json.loads(item.progress) if item.progress else None
    return Campaign(
        id=item.campaign_id,
        name=item.name,
        audience=Audience(
            segment_id=audience["segment_id"],
            trigger=TriggerKind(audience["trigger"]) if audience["trigger"] else None,
            trigger_segment_id=audience["trigger_segment_id"],
            tier=audience.get("tier"),
            within_days=audience.get("within_days"),
        ),
        channel=Channel(document["channel"]),
        template=document["template"],
        schedule=Schedule(
            kind=ScheduleKind(schedule["kind"]),
            at=datetime.fromisoformat(schedule["at"]) if schedule["at"] else None,
            every=Every(schedule["every"]) if schedule["every"] else None,
            time_of_day=time.fromisoformat(schedule["time"]) if schedule["time"] else None,
            weekday=schedule["weekday"],
            day_of_month=schedule["day_of_month"],
        ),
        holdout_percent=int(document["holdout_percent"]),
        offer_id=document["offer_id"],
        survey=document["survey"],
        created_at=item.created_at,
        updated_at=item.updated_at,
        state=CampaignState(item.state),
        next_run_at=item.next_run_at,
        progress=Progress(
            run_at=datetime.fromisoformat(progress["run_at"]),
            after=progress["cursor"],
            pages=int(progress.get("pages", 0)),
            queued_all=bool(progress.get("queued_all", False)),
            lot_day=date.fromisoformat(progress["lot_day"]) if progress.get("lot_day") else None,
        )
        if progress
        else None,
        runs=int(item.runs or 0),
        version=int(item.version or 0),
    )


def insert_campaign(tenant: TenantId, campaign: Campaign) -> Campaign:
    bound_settings()
    item = _to_item(tenant, campaign)
    item.save(condition=CampaignItem.pk.does_not_exist())
    return replace(campaign, version=int(item.version or 0))


def get_campaign(tenant: TenantId, campaign_id: str) -> Campaign | None:
    bound_settings()
    try:
        item = CampaignItem.get(keys.campaigns_pk(tenant), campaign_id, consistent_read=True)
    except CampaignItem.DoesNotExist:
        return None
    return _to_campaign(item)


def save_campaign(tenant: TenantId, campaign: Campaign, if_match: bool = False) -> Campaign:
    """Replace under the version read: PreconditionFailed (with If-Match) or
    ConcurrentModification when another writer got there first."""
    bound_settings()
    item = _to_item(tenant, campaign)
    try:
        item.save()
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        if if_match:
            raise PreconditionFailed("the campaign changed since it was read") from error
        raise ConcurrentModification("the campaign changed since it was read") from error
    return replace(campaign, version=int(item.version or 0))


def list_campaigns(tenant: TenantId, page: PageRequest) -> Page[Campaign]:
    """Oldest first (ids are time-ordered): one Query of the campaigns partition a page."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        "campaigns:list",
        page,
        lambda start, limit: CampaignItem.query(
            keys.campaigns_pk(tenant), limit=limit, page_size=limit, last_evaluated_key=start
        ),
    )
    return Page([_to_campaign(item) for item in items], cursor)


def due_campaigns(tenant: TenantId, now: datetime) -> list[Campaign]:
    """Scheduled and running campaigns whose next run is due: one Query of gsi1."""
    bound_settings()
    return [
        _to_campaign(item)
        for item in CampaignItem.by_due.query(
            keys.campaigns_due_pk(tenant), CampaignItem.gsi1sk <= f"{now.isoformat()}~"
        )
    ]


def campaigns_on_entry(tenant: TenantId, segment_id: str) -> list[Campaign]:
    """The running campaigns triggered by entering `segment_id`: one Query of gsi2."""
    bound_settings()
    return [
        _to_campaign(item)
        for item in CampaignItem.by_entry.query(keys.campaigns_on_entry_pk(tenant, segment_id))
    ]


def campaigns_on_trigger(tenant: TenantId, trigger: TriggerKind) -> list[Campaign]:
    """The running campaigns with an event trigger of this kind: one Query of gsi2."""
    bound_settings()
    return [
        _to_campaign(item)
        for item in CampaignItem.by_entry.query(keys.campaigns_on_trigger_pk(tenant, trigger.value))
    ]


def profiles(tenant: TenantId, customer_ids: Iterable[str]) -> dict[str, CustomerItem]:
    """The profiles of a page of recipients: BatchGetItem, up to 100 keys a call."""
    bound_settings()
    wanted = [(keys.customer_pk(tenant, c), keys.PROFILE_SK) for c in set(customer_ids)]
    if not wanted:
        return {}
    return {item.customer_id: item for item in CustomerItem.batch_get(wanted)}


def consent_of(profile: CustomerItem) -> Mapping[str, bool]:
    return profile.consent.as_dict() if profile.consent is not None else {}


# The recipient's writes.


def _stats_item(tenant: TenantId, campaign_id: str, customer_id: str) -> CampaignStatsItem:
    shard = zlib.crc32(customer_id.encode()) % keys.CAMPAIGN_STATS_SHARDS
    return CampaignStatsItem(
        pk=keys.campaign_stats_pk(tenant, campaign_id, shard), sk=keys.CAMPAIGN_STATS_SK
    )


def _add_counters(
    transaction: LabelledTransaction,
    tenant: TenantId,
    campaign_id: str,
    customer_id: str,
    counters: Mapping[str, int | Decimal],
) -> None:
    """`ADD` to the counters of the customer's shard (counter names are set at run time,
    as analytics' counter items are)."""
    number = ExactNumber()
    actions: list[Action] = [CampaignStatsItem.entity.set("campaign_stats")]
    for name, amount in sorted(counters.items()):
        actions.append(Path([name]).add(Value(amount, attribute=number)))
    transaction.update("stats", _stats_item(tenant, campaign_id, customer_id), actions)


@dataclass(frozen=True)
class Message:
    campaign_id: str
    customer_id: str
    channel: str
    status: str
    run_at: datetime
    at: datetime
    offer_id: str | None = None
    detail: Mapping[str, str] | None = None
    coupon_code: str | None = None


@dataclass(frozen=True)
class CapWindow:
    start: str
    max_messages: int
    expires_at: int


class OverCap(Exception):
    """The customer's frequency-cap window is full."""


def _message_item(tenant: TenantId, message: Message, event_id: str | None) -> CampaignMessageItem:
    deferred = message.status == DEFERRED
    run_at = message.run_at.isoformat()
    return CampaignMessageItem(
        pk=keys.customer_pk(tenant, message.customer_id),
        sk=keys.campaign_message_sk(run_at, message.campaign_id),
        gsi1pk=keys.campaign_messages_deferred_pk(tenant) if deferred else None,
        gsi1sk=f"{run_at}#{message.campaign_id}#{message.customer_id}" if deferred else None,
        tenant_id=tenant,
        campaign_id=message.campaign_id,
        customer_id=message.customer_id,
        channel=message.channel,
        status=message.status,
        at=message.at,
        event_id=event_id,
        offer_id=message.offer_id,
        coupon_code=message.coupon_code,
        detail=dict(message.detail) if message.detail else None,
    )


def record_message(
    tenant: TenantId,
    message: Message,
    cap: CapWindow | None = None,
    event: SegmentEvent | None = None,
    coupon: Coupon | None = None,
) -> bool:
    """One transaction: the message on the customer's timeline (once per campaign run:
    `attribute_not_exists`, or in place of the same message deferred; a deferred message
    only where there is none, so a deferral repeated writes nothing), the cap window's
    counter (`ADD 1` on condition it is below the cap: nothing is read first), the outbox
    event and the coupon the message issues. The campaign's counters follow from the data
    stream (`count_message`), so parallel sends share no item. False when this run already
    recorded the customer (a repeated page: no second coupon); OverCap when the window is
    full and CodeTaken when the coupon's code is another coupon's (nothing written)."""
    bound_settings()

    new = CampaignMessageItem.pk.does_not_exist()
    condition = (
        new if message.status == DEFERRED else new | (CampaignMessageItem.status == DEFERRED)
    )

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        transaction.put(
            "message",
            _message_item(tenant, message, event.id if event else None),
            condition=condition,
        )
        if cap is not None:
            window = CampaignCapItem(
                pk=keys.customer_pk(tenant, message.customer_id),
                sk=keys.campaign_cap_sk(cap.start),
            )
            transaction.update(
                "cap",
                window,
                [CampaignCapItem.messages.add(1), CampaignCapItem.ttl.set(cap.expires_at)],
                condition=CampaignCapItem.messages.does_not_exist()
                | (CampaignCapItem.messages < cap.max_messages),
            )
        if event is not None:
            event_repository.add_to(transaction, tenant, event)
        if coupon is not None:
            offer_repository.add_coupon_to(transaction, tenant, coupon)
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as failed:
        labels = {failure.label for failure in failed.failures}
        if "message" in labels:
            return False
        if "cap" in labels:
            raise OverCap() from failed
        if offer_repository.COUPON_PART in labels and coupon is not None:
            raise offer_repository.CodeTaken(coupon.code) from failed
        raise
    return True


DeferredCursor = dict[str, Any]


def deferred_messages(
    tenant: TenantId, limit: int, after: DeferredCursor | None = None
) -> tuple[list[Message], DeferredCursor | None]:
    """The oldest messages deferred by quiet hours from `after` on, and where the next
    page starts (None: no more): one Query of gsi1."""
    bound_settings()
    found = []
    items = CampaignMessageItem.deferred.query(
        keys.campaign_messages_deferred_pk(tenant),
        limit=limit,
        page_size=limit,
        last_evaluated_key=after,
    )
    for item in items:
        run_at = item.sk.removeprefix(keys.CAMPAIGN_MESSAGE_PREFIX).rsplit("#", 1)[0]
        found.append(
            Message(
                campaign_id=item.campaign_id,
                customer_id=item.customer_id,
                channel=item.channel,
                status=item.status,
                run_at=datetime.fromisoformat(run_at),
                at=item.at,
                offer_id=item.offer_id,
            )
        )
    return found, items.last_evaluated_key if len(found) == limit else None


def run_has_deferred(tenant: TenantId, campaign_id: str, run_at: datetime) -> bool:
    """Whether a message of the run still waits for quiet hours to end: one Query of gsi1
    (its keys begin with the run's time and the campaign), one item at most."""
    bound_settings()
    waiting = CampaignMessageItem.deferred.query(
        keys.campaign_messages_deferred_pk(tenant),
        CampaignMessageItem.gsi1sk.startswith(f"{run_at.isoformat()}#{campaign_id}#"),
        limit=1,
        page_size=1,
    )
    return next(iter(waiting), None) is not None


def count_message(
    tenant: TenantId,
    customer_id: str,
    message_sk: str,
    campaign_id: str,
    status: str,
    counters: Mapping[str, int],
    at: datetime,
) -> bool:
    """The message's `counted_at` (condition: not yet set, and the message stored with
    the `status` the record shows) and its counters (`domain.campaigns.message_counters`),
    in one transaction: a redelivered stream record counts nothing again."""
    bound_settings()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        message = CampaignMessageItem(pk=keys.customer_pk(tenant, customer_id), sk=message_sk)
        transaction.update(
            "message",
            message,
            [CampaignMessageItem.counted_at.set(at)],
            condition=(CampaignMessageItem.status == status)
            & CampaignMessageItem.counted_at.does_not_exist(),
        )
        _add_counters(transaction, tenant, campaign_id, customer_id, counters)
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed:
        return False
    return True


def uncounted_message_status(tenant: TenantId, customer_id: str, message_sk: str) -> str | None:
    """The stored status of a message not yet counted (None: gone, or counted)."""
    bound_settings()
    try:
        item = CampaignMessageItem.get(
            keys.customer_pk(tenant, customer_id), message_sk, consistent_read=True
        )
    except CampaignMessageItem.DoesNotExist:
        return None
    return None if item.counted_at is not None else item.status


def messages_since(
    tenant: TenantId, customer_id: str, since: datetime, until: datetime
) -> list[CampaignMessageItem]:
    """The customer's campaign messages of runs in [since, until]: one Query of its
    partition by sort-key range."""
    bound_settings()
    return list(
        CampaignMessageItem.query(
            keys.customer_pk(tenant, customer_id),
            CampaignMessageItem.sk.between(
                keys.campaign_message_sk(since.isoformat(), ""),
                keys.campaign_message_sk(until.isoformat(), "~"),
            ),
        )
    )


def count_once(
    tenant: TenantId,
    customer_id: str,
    marker_sk: str,
    campaign_id: str,
    group: str,
    counters: Mapping[str, int | Decimal],
) -> bool:
    """Put a marker in the customer's partition (`attribute_not_exists`) and add to the
    campaign's counters in the same transaction: a redelivered record counts nothing
    again. False when it was counted before."""
    bound_settings()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        transaction.put(
            "marker",
            CampaignConversionItem(
                pk=keys.customer_pk(tenant, customer_id),
                sk=marker_sk,
                campaign_id=campaign_id,
                group=group,
            ),
            condition=CampaignConversionItem.pk.does_not_exist(),
        )
        _add_counters(transaction, tenant, campaign_id, customer_id, counters)
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed:
        return False
    return True


def mark_delivered(
    tenant: TenantId, customer_id: str, message_sk: str, campaign_id: str, at: datetime
) -> bool:
    """The message's `delivered_at` (condition: not yet set) and the `delivered` counter,
    in one transaction."""
    bound_settings()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        message = CampaignMessageItem(pk=keys.customer_pk(tenant, customer_id), sk=message_sk)
        transaction.update(
            "message",
            message,
            [CampaignMessageItem.delivered_at.set(at)],
            condition=CampaignMessageItem.pk.exists()
            & CampaignMessageItem.delivered_at.does_not_exist(),
        )
        _add_counters(transaction, tenant, campaign_id, customer_id, {"delivered": 1})
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed:
        return False
    return True


def figures(tenant: TenantId, campaign_id: str) -> CampaignFigures:
    """The sums of the campaign's 16 counter shards: one BatchGetItem (plus a retry of
    any keys DynamoDB left unprocessed)."""
    settings = bound_settings()
    client = transaction_connection().client
    request: dict[str, Any] = {
        settings.data_table: {
            "Keys": [
                {
                    "pk": {"S": keys.campaign_stats_pk(tenant, campaign_id, shard)},
                    "sk": {"S": keys.CAMPAIGN_STATS_SK},
                }
                for shard in range(keys.CAMPAIGN_STATS_SHARDS)
            ]
        }
    }
    total: Figures = {}
    while request:
        answer = client.batch_get_item(RequestItems=request)
        for item in answer.get("Responses", {}).get(settings.data_table, []):
            merge_figures(total, figures_of(item))
        request = answer.get("UnprocessedKeys") or {}
    return CampaignFigures(total)


# A run's pages (the launch fans out one queue message per membership page).

PAGE_MARKER_DAYS = 30
_PAGE_COUNTERS = {"done": CampaignRunItem.pages_done, "failed": CampaignRunItem.pages_failed}


def settle_page(
    tenant: TenantId, campaign_id: str, run_at: datetime, page: int, outcome: str, at: datetime
) -> bool:
    """The page's marker (`attribute_not_exists`) and `ADD 1` to the run's `pages_done` or
    `pages_failed`, in one transaction: a redelivered page counts nothing again. False when
    the page was settled before."""
    bound_settings()
    counter = _PAGE_COUNTERS[outcome]
    run_pk = keys.campaign_run_pk(tenant, campaign_id)

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        transaction.put(
            "page",
            CampaignPageItem(
                pk=run_pk,
                sk=keys.campaign_page_sk(run_at.isoformat(), page),
                outcome=outcome,
                at=at,
                ttl=int((at + timedelta(days=PAGE_MARKER_DAYS)).timestamp()),
            ),
            condition=CampaignPageItem.pk.does_not_exist(),
        )
        run = CampaignRunItem(pk=run_pk, sk=keys.campaign_run_sk(run_at.isoformat()))
        transaction.update(
            "run",
            run,
            [CampaignRunItem.entity.set("campaign_run"), counter.add(1)],
        )
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as failed:
        if "page" in {failure.label for failure in failed.failures}:
            return False
        raise
    return True


def pages_settled(tenant: TenantId, campaign_id: str, run_at: datetime) -> PagesSettled:
    """The run's settled pages: one consistent GetItem."""
    bound_settings()
    try:
        item = CampaignRunItem.get(
            keys.campaign_run_pk(tenant, campaign_id),
            keys.campaign_run_sk(run_at.isoformat()),
            consistent_read=True,
        )
    except CampaignRunItem.DoesNotExist:
        return PagesSettled()
    return PagesSettled(int(item.pages_done or 0), int(item.pages_failed or 0))
