"""Campaigns (issue 15): create, change, launch and cancel them; runs that send a message
to each member of the audience segment, page by page within the job's time, resuming from
the campaign's cursor; and the figures that measure them.

A message is a `campaign.message` event written to the same outbox as segment events, so
it reaches the tenant's webhook (Standard Webhooks signing) and EventBridge through the one
delivery path (`services/segment_events.py`, the webhook queue)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from functools import partial
from typing import Any

from chalicelib.dal import campaigns as repository
from chalicelib.dal import control, keys
from chalicelib.dal import offers as offer_repository
from chalicelib.dal.campaigns import CapWindow, Message, OverCap
from chalicelib.dal.segments import list_members
from chalicelib.domain import campaigns as rules
from chalicelib.domain.campaigns import (
    Campaign,
    CampaignFigures,
    CampaignState,
    FrequencyCap,
    QuietHours,
    Uplift,
)
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import ConcurrentModification, FieldIssue, InvalidInput, NotFound
from chalicelib.domain.ids import CAMPAIGN_ID_PATTERN, new_campaign_id, new_event_id
from chalicelib.domain.offers import Coupon, Offer, OfferType
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.segments import SegmentEvent
from chalicelib.domain.tenancy import TenantId, TenantStatus
from chalicelib.domain.tenant_config import CampaignsConfig
from chalicelib.observability import logger
from chalicelib.parallel import run_all
from chalicelib.services.segment_events import publishes_events
from chalicelib.services.tenant_config import get_tenant_config

MESSAGE_EVENT = "campaign.message"
RECIPIENTS_PER_PAGE = 100
SEND_WORKERS = 16
CODE_ATTEMPTS = 5


@dataclass(frozen=True)
class CampaignDraft:
    name: str
    audience: rules.Audience
    channel: rules.Channel
    template: str
    schedule: rules.Schedule
    holdout_percent: int
    offer_id: str | None = None
    survey: Mapping[str, str] | None = None


def create_campaign(tenant: TenantId, draft: CampaignDraft) -> Campaign:
    rules.check_template(draft.template)
    rules.check_offer(draft.template, _named_offer(tenant, draft.offer_id))
    now = utc_now()
    campaign = Campaign(
        id=new_campaign_id(),
        name=draft.name,
        audience=draft.audience,
        channel=draft.channel,
        template=draft.template,
        schedule=draft.schedule,
        holdout_percent=draft.holdout_percent,
        offer_id=draft.offer_id,
        survey=draft.survey,
        created_at=now,
        updated_at=now,
    )
    return repository.insert_campaign(tenant, campaign)


def get_campaign(tenant: TenantId, campaign_id: str) -> Campaign:
    """404 for an id that is not a campaign id before anything is read (no path value
    reaches a key unchecked)."""
    if not CAMPAIGN_ID_PATTERN.match(campaign_id):
        raise NotFound(f"campaign {campaign_id} does not exist")
    campaign = repository.get_campaign(tenant, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return campaign


def _named_offer(tenant: TenantId, offer_id: str | None) -> Offer | None:
    """The offer a campaign names; an id of no offer of the tenant is 422 (`offer_id`)."""
    if offer_id is None:
        return None
    offer = offer_repository.get_offer(tenant, offer_id)
    if offer is None:
        raise InvalidInput(
            [FieldIssue("offer_id", f"offer {offer_id} does not exist", "unknown_offer")]
        )
    return offer


def list_campaigns(tenant: TenantId, page: PageRequest) -> Page[Campaign]:
    return repository.list_campaigns(tenant, page)


def update_campaign(
    tenant: TenantId, campaign_id: str, changes: Mapping[str, Any], if_match: int | None
) -> Campaign:
    """Draft and scheduled campaigns only (409 otherwise); `changes` names the fields sent."""
    campaign = get_campaign(tenant, campaign_id)
    if if_match is not None and if_match != campaign.version:
        from chalicelib.domain.errors import PreconditionFailed

        raise PreconditionFailed("the campaign changed since it was read")
    rules.require_editable(campaign)
    if "template" in changes:
        rules.check_template(str(changes["template"]))
    changed = replace(campaign, **dict(changes), updated_at=utc_now())
    if "template" in changes or "offer_id" in changes:
        rules.check_offer(changed.template, _named_offer(tenant, changed.offer_id))
    if changed.state is CampaignState.SCHEDULED and "schedule" in changes:
        changed = replace(changed, next_run_at=changed.schedule.first_run(utc_now()))
    return repository.save_campaign(tenant, changed, if_match is not None)


def launch_campaign(tenant: TenantId, campaign_id: str) -> Campaign:
    campaign = get_campaign(tenant, campaign_id)
    return repository.save_campaign(tenant, rules.launched(campaign, utc_now()))


def cancel_campaign(tenant: TenantId, campaign_id: str) -> Campaign:
    campaign = get_campaign(tenant, campaign_id)
    return repository.save_campaign(tenant, rules.cancelled(campaign, utc_now()))


# Runs.


@dataclass
class RunReport:
    campaigns: int = 0
    recipients: int = 0
    finished: list[str] = field(default_factory=list)


def run_due_campaigns(now: datetime, deadline: float) -> RunReport:
    """Every live tenant's due campaigns, a page of recipients at a time, until done or the
    deadline; the cursor saved after each page lets the next run continue."""
    report = RunReport()
    for tenant in control.iter_tenants():
        if tenant.status is not TenantStatus.ACTIVE:
            continue
        for campaign in repository.due_campaigns(tenant.id, now):
            if time.monotonic() >= deadline:
                return report
            report.campaigns += 1
            run_campaign(tenant.id, campaign, now, deadline, report)
    return report


def run_campaign(
    tenant: TenantId, campaign: Campaign, now: datetime, deadline: float, report: RunReport
) -> Campaign:
    config = get_tenant_config(tenant).campaigns
    if _quiet_until(config, now) is not None:
        return campaign
    segment = campaign.audience.launch_segment()
    if campaign.state is CampaignState.SCHEDULED:
        campaign = repository.save_campaign(tenant, rules.run_started(campaign, now))
    if segment is None:
        return campaign
    while time.monotonic() < deadline:
        progress = campaign.progress
        assert progress is not None
        page = list_members(tenant, segment, PageRequest(RECIPIENTS_PER_PAGE, progress.after))
        send_to(tenant, campaign, page.items, progress.run_at, now, config)
        report.recipients += len(page.items)
        if page.next_cursor is None:
            campaign = repository.save_campaign(tenant, rules.run_finished(campaign, now))
            report.finished.append(campaign.id)
            return campaign
        campaign = repository.save_campaign(
            tenant, replace(campaign, progress=replace(progress, after=page.next_cursor))
        )
    return campaign


def _quiet_until(config: CampaignsConfig, now: datetime) -> datetime | None:
    quiet = config.quiet_hours
    if quiet is None:
        return None
    window = QuietHours(
        clock_time.fromisoformat(quiet.start), clock_time.fromisoformat(quiet.end), quiet.time_zone
    )
    return window.ends_after(now)


def _coupon_offer(tenant: TenantId, campaign: Campaign) -> Offer | None:
    """The discount or gift offer whose coupon each sent message of the campaign issues
    (read once per page of recipients); None for no offer or a bonus-points one."""
    if campaign.offer_id is None:
        return None
    offer = offer_repository.get_offer(tenant, campaign.offer_id)
    return offer if rules.issues_coupons(offer) else None


def _offer_detail(campaign: Campaign, coupon: Coupon | None) -> dict[str, str]:
    """The offer part of one recipient's message: the offer id, and the coupon issued."""
    detail = {"offer_id": campaign.offer_id} if campaign.offer_id else {}
    if coupon is not None:
        detail[rules.COUPON_FIELD] = coupon.code
    return detail


def send_to(
    tenant: TenantId,
    campaign: Campaign,
    customer_ids: list[str],
    run_at: datetime,
    now: datetime,
    config: CampaignsConfig,
) -> None:
    """One message per customer of this run, the page's customers on up to SEND_WORKERS
    threads (each recipient's writes are one transaction on its own partition). A customer
    the run already recorded is skipped, so a repeated page sends nothing twice."""
    profiles = repository.profiles(tenant, customer_ids)
    cap = FrequencyCap(config.max_messages_per_customer, config.frequency_window_hours)
    publishing = publishes_events(get_tenant_config(tenant))
    coupon_offer = _coupon_offer(tenant, campaign)
    tasks = [
        partial(
            _message_one,
            tenant,
            campaign,
            profiles[customer_id],
            run_at,
            now,
            cap,
            publishing,
            coupon_offer,
        )
        for customer_id in customer_ids
        if customer_id in profiles
    ]
    run_all(tasks, SEND_WORKERS)


def _message_one(
    tenant: TenantId,
    campaign: Campaign,
    profile: Any,
    run_at: datetime,
    now: datetime,
    cap: FrequencyCap,
    publishing: bool,
    coupon_offer: Offer | None = None,
) -> None:
    """Held out (recorded, not sent), refused by consent, not sent because the coupon
    offer has ended, or sent (within the cap, with the coupon it issues)."""
    customer_id = profile.customer_id
    message = Message(
        campaign_id=campaign.id,
        customer_id=customer_id,
        channel=campaign.channel.value,
        status="held_out",
        run_at=run_at,
        at=now,
        offer_id=campaign.offer_id,
    )
    if rules.in_holdout(campaign.id, customer_id, campaign.holdout_percent):
        repository.record_message(tenant, message)
        return
    consent_flag = rules.CONSENT_FOR_CHANNEL.get(campaign.channel)
    if consent_flag is not None and not repository.consent_of(profile).get(consent_flag):
        repository.record_message(tenant, replace(message, status="no_consent"))
        return
    if coupon_offer is not None and not coupon_offer.is_live(now):
        repository.record_message(tenant, replace(message, status="offer_ended"))
        return
    _send(tenant, campaign, profile, message, cap, now, publishing, coupon_offer)


def _send(
    tenant: TenantId,
    campaign: Campaign,
    profile: Any,
    message: Message,
    cap: FrequencyCap,
    now: datetime,
    publishing: bool,
    coupon_offer: Offer | None,
) -> None:
    """The sent message, its cap window, its event and its coupon in one transaction: a
    repeated send records nothing and issues no second coupon. A coupon code drawn that
    another coupon has is drawn again."""
    window = CapWindow(
        cap.window_of(now),
        cap.max_messages,
        int((cap.window_end(now) + timedelta(days=1)).timestamp()),
    )
    for _ in range(CODE_ATTEMPTS):
        coupon = (
            coupon_offer.new_coupon(profile.customer_id, now, campaign.id)
            if coupon_offer is not None
            else None
        )
        event = _message_event(campaign, profile, message, coupon, now) if publishing else None
        sent = replace(
            message,
            status="sent",
            detail={"channel": campaign.channel.value},
            coupon_code=coupon.code if coupon else None,
        )
        try:
            repository.record_message(tenant, sent, cap=window, event=event, coupon=coupon)
        except OverCap:
            repository.record_message(tenant, replace(message, status="over_cap"))
        except offer_repository.CodeTaken:
            continue
        return
    raise ConcurrentModification("no free coupon code was drawn; retry")


def _message_event(
    campaign: Campaign, profile: Any, message: Message, coupon: Coupon | None, now: datetime
) -> SegmentEvent:
    values = rules.customer_fields(
        profile.customer_id, profile.name, profile.email, profile.phone, profile.external_id
    )
    values[rules.COUPON_FIELD] = coupon.code if coupon else ""
    detail = {
        "campaign_id": campaign.id,
        "channel": campaign.channel.value,
        "message": rules.render(campaign.template, values),
        "message_sk": keys.campaign_message_sk(message.run_at.isoformat(), campaign.id),
        **_offer_detail(campaign, coupon),
    }
    if campaign.survey:
        detail.update({f"survey_{name}": value for name, value in campaign.survey.items()})
    return SegmentEvent(
        new_event_id(), MESSAGE_EVENT, None, profile.customer_id, now, detail=detail
    )


# Reactions to the data stream (chalicelib.streams.campaigns).


def on_segment_entered(
    tenant: TenantId, segment_id: str, customer_id: str, occurred_at: datetime
) -> None:
    """A `segment.entered` event: one message from each running campaign triggered by that
    segment, named by the event's time (a redelivered event records nothing new)."""
    campaigns = repository.campaigns_on_entry(tenant, segment_id)
    if not campaigns:
        return
    config = get_tenant_config(tenant).campaigns
    now = utc_now()
    for campaign in campaigns:
        send_to(tenant, campaign, [customer_id], occurred_at, now, config)


COUNTER_FOR_STATUS = {
    "sent": "sent",
    "held_out": "held_out",
    "no_consent": "skipped_consent",
    "over_cap": "skipped_cap",
    "offer_ended": "skipped_offer",
}


def record_message_outcome(
    tenant: TenantId, customer_id: str, message_sk: str, campaign_id: str, status: str
) -> None:
    """A new campaign message item: its outcome's counter, once. The outcome counted is
    the one stored (a record may show an image that a later write replaced)."""
    while status in COUNTER_FOR_STATUS:
        counter = COUNTER_FOR_STATUS[status]
        if repository.count_message(
            tenant, customer_id, message_sk, campaign_id, status, counter, utc_now()
        ):
            return
        stored = repository.uncounted_message_status(tenant, customer_id, message_sk)
        if stored is None or stored == status:
            return
        status = stored


def record_delivery(tenant: TenantId, customer_id: str, detail: Mapping[str, Any]) -> None:
    """A campaign message event was delivered: the message's `delivered_at` and the
    `delivered` counter, once."""
    campaign_id, message_sk = detail.get("campaign_id"), detail.get("message_sk")
    if not isinstance(campaign_id, str) or not isinstance(message_sk, str):
        return
    repository.mark_delivered(tenant, customer_id, message_sk, campaign_id, utc_now())


def record_purchase(
    tenant: TenantId, customer_id: str, interaction_id: str, occurred_at: datetime, amount: Decimal
) -> None:
    """A purchase converts for every campaign that messaged (or held out) the customer
    within the attribution window before it: the purchase and revenue once per campaign,
    and the customer once per campaign (`converted`), each behind a marker."""
    window = get_tenant_config(tenant).campaigns.attribution_window_days
    seen: set[str] = set()
    for message in repository.messages_since(
        tenant, customer_id, occurred_at - timedelta(days=window), occurred_at
    ):
        if message.campaign_id in seen or message.status not in ("sent", "held_out"):
            continue
        seen.add(message.campaign_id)
        group = "holdout" if message.status == "held_out" else "treatment"
        prefix = "holdout_" if group == "holdout" else ""
        repository.count_once(
            tenant,
            customer_id,
            keys.campaign_conversion_sk(message.campaign_id, interaction_id),
            message.campaign_id,
            group,
            {f"{prefix}purchases": 1, f"{prefix}revenue": amount},
        )
        repository.count_once(
            tenant,
            customer_id,
            keys.campaign_conversion_sk(message.campaign_id),
            message.campaign_id,
            group,
            {f"{prefix}converted": 1},
        )


def record_redemption(
    tenant: TenantId, campaign_id: str, customer_id: str, coupon_id: str, points_cost: int
) -> bool:
    """A coupon of the campaign's offer was redeemed: `redeemed` and `points_cost`, once
    per coupon (marker `MSGCONV#{campaign}#{code}`)."""
    return repository.count_once(
        tenant,
        customer_id,
        keys.campaign_conversion_sk(campaign_id, coupon_id),
        campaign_id,
        "treatment",
        {"redeemed": 1, "points_cost": points_cost},
    )


def on_coupon_redeemed(
    tenant: TenantId, campaign_id: str, customer_id: str, code: str, offer_id: str
) -> bool:
    """A coupon the campaign issued turned redeemed (the data stream's reaction): the
    campaign's `redeemed` and `points_cost` (the points of a bonus-points offer's coupon;
    the discount and gift coupons a campaign issues cost none), once per coupon."""
    offer = offer_repository.get_offer(tenant, offer_id)
    points = 0
    if offer is not None and offer.type is OfferType.BONUS_POINTS:
        points = offer.points or 0
    return record_redemption(tenant, campaign_id, customer_id, code, points)


@dataclass(frozen=True)
class CampaignResults:
    campaign: Campaign
    figures: CampaignFigures
    uplift: Uplift | None


def campaign_results(tenant: TenantId, campaign_id: str) -> CampaignResults:
    campaign = get_campaign(tenant, campaign_id)
    figures = repository.figures(tenant, campaign_id)
    treated = figures.count("sent")
    held = figures.count("held_out")
    change = rules.uplift(
        figures.count("converted"), treated, figures.count("holdout_converted"), held
    )
    return CampaignResults(campaign, figures, change)


def log_run(report: RunReport) -> None:
    if report.campaigns:
        logger.info(
            "campaign runs",
            campaigns=report.campaigns,
            recipients=report.recipients,
            finished=len(report.finished),
        )
