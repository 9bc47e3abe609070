"""Campaigns (issue 15): create, change, launch and cancel them; runs that send a message
to each member of the audience segment, page by page within the job's time, resuming from
the campaign's cursor; and the figures that measure them.

A message is a `campaign.message` event written to the same outbox as segment events, so
it reaches the tenant's webhook (Standard Webhooks signing) and EventBridge through the one
delivery path (`services/segment_events.py`, the webhook queue)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from functools import partial
from typing import Any

from chalicelib.dal import campaigns as repository
from chalicelib.dal import control, keys
from chalicelib.dal import loyalty as loyalty_repository
from chalicelib.dal import offers as offer_repository
from chalicelib.dal.campaigns import DEFERRED, CapWindow, Message, OverCap
from chalicelib.dal.segments import list_members
from chalicelib.domain import campaigns as rules
from chalicelib.domain.campaigns import (
    Campaign,
    CampaignFigures,
    CampaignState,
    FrequencyCap,
    QuietHours,
    RecipientPage,
    TriggerKind,
    Uplift,
)
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import ConcurrentModification, FieldIssue, InvalidInput, NotFound
from chalicelib.domain.ids import CAMPAIGN_ID_PATTERN, new_campaign_id, new_event_id
from chalicelib.domain.offers import Coupon, Offer, OfferType
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.segments import SegmentEvent
from chalicelib.domain.tenancy import TenantId, TenantStatus
from chalicelib.domain.tenant_config import CampaignsConfig, TenantConfig
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
    _check_target_tier(tenant, draft.audience)
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


def _check_target_tier(tenant: TenantId, audience: rules.Audience) -> None:
    """A `tier_changed` campaign's target tier must be one of the tenant's tiers (422)."""
    if audience.tier is None:
        return
    tiers = [tier.name for tier in get_tenant_config(tenant).loyalty.tiers]
    if audience.tier not in tiers:
        raise InvalidInput(
            [
                FieldIssue(
                    "audience.trigger.tier",
                    f"the tenant has no tier {audience.tier} (its tiers: {', '.join(tiers)})",
                    "unknown_tier",
                )
            ]
        )


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
    pages: int = 0
    finished: list[str] = field(default_factory=list)


QueuePages = Callable[[TenantId, Sequence[RecipientPage]], object]
"""Queues pages of recipients for the send workers (chalicelib.streams.campaign_sends)."""

PAGES_PER_SAVE = 10


def run_due_campaigns(now: datetime, deadline: float, queue_pages: QueuePages) -> RunReport:
    """Every live tenant's due campaigns: each run's membership pages queued for the send
    workers, until done or the deadline (the cursor saved after every few pages lets the
    next run continue), and a run ended once every page is queued and settled."""
    report = RunReport()
    for tenant in control.iter_tenants():
        if tenant.status is not TenantStatus.ACTIVE:
            continue
        send_deferred(tenant.id, now, deadline, report)
        for campaign in repository.due_campaigns(tenant.id, now):
            if time.monotonic() >= deadline:
                return report
            report.campaigns += 1
            run_campaign(tenant.id, campaign, now, deadline, report, queue_pages)
    return report


def run_campaign(
    tenant: TenantId,
    campaign: Campaign,
    now: datetime,
    deadline: float,
    report: RunReport,
    queue_pages: QueuePages,
) -> Campaign:
    """Starts a due run, queues its recipients a page a message, and ends it (completed,
    or scheduled for its next recurrence) when the workers have settled every page and no
    message of the run waits for quiet hours to end: at the latest on the job's next run
    after the last page (or the last deferred message) was sent. Quiet hours hold the
    start and the queueing, not the end of a run whose pages are all queued."""
    config = get_tenant_config(tenant).campaigns
    queued_all = campaign.progress is not None and campaign.progress.queued_all
    if not queued_all and _quiet_until(config, now) is not None:
        return campaign
    segment = campaign.audience.launch_segment()
    if campaign.state is CampaignState.SCHEDULED:
        campaign = repository.save_campaign(tenant, rules.run_started(campaign, now))
    if campaign.audience.sweeps_expiring_points():
        return _sweep_expiring_points(tenant, campaign, now, deadline, report, config)
    if segment is None:
        return campaign
    progress = campaign.progress
    assert progress is not None
    if not progress.queued_all:
        campaign = _queue_recipients(tenant, campaign, segment, deadline, report, queue_pages)
        progress = campaign.progress
        assert progress is not None
    if (
        progress.queued_all
        and rules.run_complete(
            progress, repository.pages_settled(tenant, campaign.id, progress.run_at)
        )
        and not repository.run_has_deferred(tenant, campaign.id, progress.run_at)
    ):
        campaign = repository.save_campaign(tenant, rules.run_finished(campaign, now))
        report.finished.append(campaign.id)
    return campaign


def _queue_recipients(
    tenant: TenantId,
    campaign: Campaign,
    segment: str,
    deadline: float,
    report: RunReport,
    queue_pages: QueuePages,
) -> Campaign:
    """Membership pages read in order from the run's cursor; every PAGES_PER_SAVE pages
    queued, then the cursor and the page count saved. Queued pages the cursor does not yet
    cover (a crash between the two) are queued again under the same numbers: the workers'
    sends and page markers are idempotent."""
    while time.monotonic() < deadline:
        progress = campaign.progress
        assert progress is not None
        pages: list[RecipientPage] = []
        after = progress.after
        while len(pages) < PAGES_PER_SAVE:
            page = list_members(tenant, segment, PageRequest(RECIPIENTS_PER_PAGE, after))
            if page.items:
                number = progress.pages + len(pages)
                pages.append(RecipientPage(campaign.id, progress.run_at, number, tuple(page.items)))
            after = page.next_cursor
            if after is None:
                break
        if pages:
            queue_pages(tenant, pages)
        report.pages += len(pages)
        report.recipients += sum(len(page.customer_ids) for page in pages)
        queued = replace(
            progress, after=after, pages=progress.pages + len(pages), queued_all=after is None
        )
        campaign = repository.save_campaign(tenant, replace(campaign, progress=queued))
        if queued.queued_all:
            return campaign
    return campaign


def send_page(tenant: TenantId, page: RecipientPage) -> None:
    """A send worker's page: each member messaged through `send_to`, then the page marked
    done. A page of a run that is over (cancelled, or already ended) sends nothing. Within
    the tenant's quiet hours (the page was queued before they began) each member's message
    is recorded `deferred` instead, for the campaign job to send once they end
    (`send_deferred`); a member this run already messaged keeps its message."""
    campaign = repository.get_campaign(tenant, page.campaign_id)
    progress = campaign.progress if campaign is not None else None
    if (
        campaign is None
        or campaign.state is not CampaignState.RUNNING
        or progress is None
        or progress.run_at != page.run_at
    ):
        logger.info("campaign page of a run that is over", campaign=page.campaign_id)
        return
    config = get_tenant_config(tenant).campaigns
    now = utc_now()
    if _quiet_until(config, now) is not None:
        profiles = repository.profiles(tenant, page.customer_ids)
        members = [customer_id for customer_id in page.customer_ids if customer_id in profiles]
        _defer(tenant, [_deferred(campaign, c, page.run_at, now) for c in members])
    else:
        send_to(tenant, campaign, list(page.customer_ids), page.run_at, now, config)
    repository.settle_page(tenant, campaign.id, page.run_at, page.number, "done", utc_now())


def give_up_page(tenant: TenantId, page: RecipientPage, error: Exception) -> None:
    """A page that failed its last attempt: settled as failed, so the run can end (its
    message goes to the dead-letter queue; its members already messaged stay messaged)."""
    logger.error(
        "campaign page failed its last attempt",
        campaign=page.campaign_id,
        page=page.number,
        error=repr(error),
    )
    repository.settle_page(tenant, page.campaign_id, page.run_at, page.number, "failed", utc_now())


def _sweep_expiring_points(
    tenant: TenantId,
    campaign: Campaign,
    now: datetime,
    deadline: float,
    report: RunReport,
    config: CampaignsConfig,
) -> Campaign:
    """A `points_expiring` sweep: for each expiry date from the campaign's `lot_day` to
    the horizon, the customers with a lot marker for that date (the expiry job's gsi2
    Query, a page at a time) who still hold points of that lot, messaged under the sweep's
    `run_at`. Progress is saved after each page that sent (a resumed sweep continues from
    it; a repeated page sends nothing twice) and when the sweep is done."""
    horizon = rules.expiry_horizon(campaign, now)
    progress = campaign.progress
    assert progress is not None and progress.lot_day is not None
    while time.monotonic() < deadline:
        day = progress.lot_day
        assert day is not None
        if day > horizon:
            done = rules.expiry_sweep_finished(replace(campaign, progress=progress), now)
            report.finished.append(campaign.id)
            return repository.save_campaign(tenant, done)
        page = loyalty_repository.customers_with_lots_expiring_page(
            tenant, day, PageRequest(RECIPIENTS_PER_PAGE, progress.after)
        )
        accounts = loyalty_repository.get_accounts(tenant, page.items)
        holders = [
            customer_id
            for customer_id in page.items
            if customer_id in accounts
            and accounts[customer_id].closed_at is None
            and accounts[customer_id].lots.get(day, 0) > 0
        ]
        send_to(tenant, campaign, holders, progress.run_at, now, config)
        report.recipients += len(holders)
        progress = (
            replace(progress, after=page.next_cursor)
            if page.next_cursor
            else replace(progress, lot_day=day + timedelta(days=1), after=None)
        )
        if holders:
            campaign = repository.save_campaign(tenant, replace(campaign, progress=progress))
    return repository.save_campaign(tenant, replace(campaign, progress=progress))


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
) -> list[str]:
    """One message per customer of this run, the page's customers on up to SEND_WORKERS
    threads (each recipient's writes are one transaction on its own partition). A customer
    the run already recorded is skipped, so a repeated page sends nothing twice. Answers
    the customers who were not messaged because their profile is gone (deleted, merged)."""
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
    return [customer_id for customer_id in customer_ids if customer_id not in profiles]


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
    if campaigns:
        _send_triggered(tenant, campaigns, customer_id, occurred_at, get_tenant_config(tenant))


def on_tier_changed(
    tenant: TenantId, customer_id: str, before: str | None, after: str, occurred_at: datetime
) -> None:
    """The customer's points account moved from tier `before` to `after` (`before` None:
    the account is new, so it moved from the tenant's first tier): one message from each
    running `tier_changed` campaign that wants the move, named by the change's time."""
    campaigns = repository.campaigns_on_trigger(tenant, TriggerKind.TIER_CHANGED)
    if not campaigns:
        return
    config = get_tenant_config(tenant)
    start = before if before is not None else config.loyalty.tiers[0].name
    wanted = [c for c in campaigns if c.audience.wants_tier_change(start, after)]
    _send_triggered(tenant, wanted, customer_id, occurred_at, config)


def on_ticket_resolved(tenant: TenantId, customer_id: str, resolved_at: datetime) -> None:
    """One of the customer's tickets turned resolved: one message from each running
    `ticket_resolved` campaign, named by the resolution's time (a ticket reopened and
    resolved again is a new event)."""
    campaigns = repository.campaigns_on_trigger(tenant, TriggerKind.TICKET_RESOLVED)
    if campaigns:
        _send_triggered(tenant, campaigns, customer_id, resolved_at, get_tenant_config(tenant))


def _send_triggered(
    tenant: TenantId,
    campaigns: list[Campaign],
    customer_id: str,
    occurred_at: datetime,
    config: TenantConfig,
) -> None:
    """The event's time names the messages, so a redelivered record records nothing new.
    Within the tenant's quiet hours each message is recorded `deferred` instead, for the
    campaign job to send once they end (`send_deferred`)."""
    now = utc_now()
    if _quiet_until(config.campaigns, now) is not None:
        _defer(tenant, [_deferred(c, customer_id, occurred_at, now) for c in campaigns])
        return
    for campaign in campaigns:
        send_to(tenant, campaign, [customer_id], occurred_at, now, config.campaigns)


def _deferred(campaign: Campaign, customer_id: str, run_at: datetime, now: datetime) -> Message:
    return Message(
        campaign_id=campaign.id,
        customer_id=customer_id,
        channel=campaign.channel.value,
        status=DEFERRED,
        run_at=run_at,
        at=now,
        offer_id=campaign.offer_id,
    )


def _defer(tenant: TenantId, messages: Sequence[Message]) -> None:
    """Each message recorded `deferred` (listed in gsi1 for `send_deferred`) on up to
    SEND_WORKERS threads; one already recorded (deferred, sent or skipped) stays as it is."""
    run_all([partial(repository.record_message, tenant, m) for m in messages], SEND_WORKERS)


def send_deferred(tenant: TenantId, now: datetime, deadline: float, report: RunReport) -> None:
    """The messages deferred by quiet hours (trigger messages, and the pages of runs that
    workers took within them), oldest first, once they are over: a page of 100 at a time
    until none is left or the job's time is spent, each sent through the usual path under
    its run's time (replacing the deferred item, which leaves the index; a message of the
    same run on the page's threads). A message whose campaign was cancelled (or is gone), or
    whose customer's profile is gone, is recorded `cancelled` instead (so it leaves the index
    and its run can end); a campaign whose run has since ended still sends it."""
    config = get_tenant_config(tenant).campaigns
    if _quiet_until(config, now) is not None:
        return
    campaigns: dict[str, Campaign | None] = {}
    after: repository.DeferredCursor | None = None
    while time.monotonic() < deadline:
        waiting, after = repository.deferred_messages(tenant, RECIPIENTS_PER_PAGE, after)
        runs: dict[tuple[str, datetime], dict[str, Message]] = {}
        for message in waiting:
            if message.campaign_id not in campaigns:
                campaigns[message.campaign_id] = repository.get_campaign(
                    tenant, message.campaign_id
                )
            campaign = campaigns[message.campaign_id]
            if campaign is None or campaign.state is CampaignState.CANCELLED:
                repository.record_message(tenant, replace(message, status="cancelled", at=now))
                continue
            runs.setdefault((message.campaign_id, message.run_at), {})[message.customer_id] = (
                message
            )
        for (campaign_id, run_at), messages in runs.items():
            campaign = campaigns[campaign_id]
            assert campaign is not None
            gone = send_to(tenant, campaign, list(messages), run_at, now, config)
            for customer_id in gone:
                repository.record_message(
                    tenant, replace(messages[customer_id], status="cancelled", at=now)
                )
            report.recipients += len(messages) - len(gone)
        if after is None:
            return


def record_message_outcome(
    tenant: TenantId,
    customer_id: str,
    message_sk: str,
    campaign_id: str,
    status: str,
    replaces_counted_deferral: bool = False,
) -> None:
    """A new campaign message item: its outcome's counter, once, and the `deferred`
    counter down by one when it replaced a deferred message that was counted. The outcome
    counted is the one stored (a record may show an image that a later write replaced; the
    deferral it replaced was then never counted)."""
    while counters := rules.message_counters(status, replaces_counted_deferral):
        if repository.count_message(
            tenant, customer_id, message_sk, campaign_id, status, counters, utc_now()
        ):
            return
        stored = repository.uncounted_message_status(tenant, customer_id, message_sk)
        if stored is None or stored == status:
            return
        status, replaces_counted_deferral = stored, False


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
            pages=report.pages,
            finished=len(report.finished),
        )
