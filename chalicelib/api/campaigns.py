"""Campaign routes (issue 15)."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply, etag_for
from chalicelib.domain.campaigns import Campaign
from chalicelib.domain.paging import PageRequest
from chalicelib.schemas.campaigns import (
    CampaignCreate,
    CampaignOut,
    CampaignPage,
    CampaignResultsOut,
    CampaignUpdate,
    UpliftOut,
)
from chalicelib.schemas.common import PageQuery
from chalicelib.services import campaigns as service

campaigns_api = Operations(__name__)


def _reply(campaign: Campaign, status: int = 200) -> Reply:
    return Reply(CampaignOut.of(campaign), status, {"ETag": etag_for(campaign.version)})


@campaigns_api.operation(
    "POST",
    "/v1/campaigns",
    summary="Create a campaign",
    tag="campaigns",
    body=CampaignCreate,
    response=CampaignOut,
    status=201,
)
def create_campaign(call: Call[CampaignCreate, None]) -> Reply:
    """A draft: audience (a segment, or a trigger), optional offer, message template,
    channel, schedule and holdout share. `POST …/launch` starts it."""
    body = call.body
    draft = service.CampaignDraft(
        name=body.name,
        audience=body.audience.to_audience(),
        channel=body.channel,
        template=body.message.template,
        schedule=body.schedule.to_schedule(),
        holdout_percent=body.holdout_percent,
        offer_id=body.offer_id,
        survey=body.survey.model_dump() if body.survey else None,
    )
    campaign = service.create_campaign(call.tenant, draft)
    reply = _reply(campaign, 201)
    reply.headers["Location"] = f"/v1/campaigns/{campaign.id}"
    return reply


@campaigns_api.operation(
    "GET",
    "/v1/campaigns",
    summary="List campaigns",
    tag="campaigns",
    query=PageQuery,
    response=CampaignPage,
)
def list_campaigns(call: Call[None, PageQuery]) -> Reply:
    """Oldest first."""
    page = service.list_campaigns(call.tenant, PageRequest(call.query.limit, call.query.cursor))
    return Reply(
        CampaignPage(items=[CampaignOut.of(c) for c in page.items], next_cursor=page.next_cursor)
    )


@campaigns_api.operation(
    "GET",
    "/v1/campaigns/{campaign_id}",
    summary="Get a campaign",
    tag="campaigns",
    response=CampaignOut,
    extra_responses=(404,),
)
def get_campaign(call: Call[None, None], campaign_id: str) -> Reply:
    return _reply(service.get_campaign(call.tenant, campaign_id))


@campaigns_api.operation(
    "PATCH",
    "/v1/campaigns/{campaign_id}",
    summary="Change a draft or scheduled campaign",
    tag="campaigns",
    body=CampaignUpdate,
    response=CampaignOut,
    extra_responses=(404, 409, 412),
)
def update_campaign(call: Call[CampaignUpdate, None], campaign_id: str) -> Reply:
    """Running, completed and cancelled campaigns answer 409 naming the state."""
    campaign = service.update_campaign(
        call.tenant, campaign_id, call.body.changes(), call.if_match_version()
    )
    return _reply(campaign)


@campaigns_api.operation(
    "POST",
    "/v1/campaigns/{campaign_id}/launch",
    summary="Launch a draft campaign",
    tag="campaigns",
    response=CampaignOut,
    extra_responses=(404, 409),
)
def launch_campaign(call: Call[None, None], campaign_id: str) -> Reply:
    """draft → scheduled; the campaign job starts the run when it is due (at once for
    `now`). Any other state answers 409 with `status_now`."""
    return _reply(service.launch_campaign(call.tenant, campaign_id))


@campaigns_api.operation(
    "POST",
    "/v1/campaigns/{campaign_id}/cancel",
    summary="Cancel a campaign",
    tag="campaigns",
    response=CampaignOut,
    extra_responses=(404, 409),
)
def cancel_campaign(call: Call[None, None], campaign_id: str) -> Reply:
    """draft, scheduled or running → cancelled; completed and cancelled answer 409."""
    return _reply(service.cancel_campaign(call.tenant, campaign_id))


@campaigns_api.operation(
    "GET",
    "/v1/campaigns/{campaign_id}/results",
    summary="A campaign's results",
    tag="campaigns",
    response=CampaignResultsOut,
    extra_responses=(404,),
)
def get_campaign_results(call: Call[None, None], campaign_id: str) -> Reply:
    """Counters kept by the data stream; the uplift is the treatment's conversion rate
    minus the holdout's, with a 95 % (Wald) confidence interval."""
    results = service.campaign_results(call.tenant, campaign_id)
    figures = results.figures
    change = results.uplift
    return Reply(
        CampaignResultsOut(
            campaign_id=results.campaign.id,
            state=results.campaign.state.value,
            sent=figures.count("sent"),
            delivered=figures.count("delivered"),
            held_out=figures.count("held_out"),
            skipped_no_consent=figures.count("skipped_consent"),
            skipped_over_cap=figures.count("skipped_cap"),
            skipped_offer_ended=figures.count("skipped_offer"),
            deferred=figures.count("deferred"),
            redeemed=figures.count("redeemed"),
            conversions=figures.count("converted"),
            purchases=figures.count("purchases"),
            revenue=figures.amount("revenue"),
            points_cost=figures.count("points_cost"),
            holdout_conversions=figures.count("holdout_converted"),
            uplift=UpliftOut(
                treatment_rate=change.treatment_rate,
                holdout_rate=change.holdout_rate,
                difference=change.difference,
                ci95_low=change.low,
                ci95_high=change.high,
            )
            if change
            else None,
        )
    )
