"""Rewards catalogue routes: define rewards, list them, redeem them for points."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply, etag_for
from chalicelib.domain.paging import PageRequest
from chalicelib.domain.rewards import Reward, RewardRedemptionRecord
from chalicelib.schemas.common import PageQuery
from chalicelib.schemas.rewards import (
    RedemptionPage,
    RewardCreate,
    RewardOut,
    RewardPage,
    RewardPatch,
)
from chalicelib.services import rewards as service

rewards_api = Operations(__name__)


def _reward_reply(reward: Reward, status: int = 200) -> Reply:
    return Reply(RewardOut.of(reward), status, {"ETag": etag_for(reward.version)})


def _page(rewards: list[Reward], cursor: str | None) -> Reply:
    return Reply(RewardPage(items=[RewardOut.of(r) for r in rewards], next_cursor=cursor))


@rewards_api.operation(
    "POST",
    "/v1/rewards",
    summary="Add a reward to the catalogue",
    tag="rewards",
    body=RewardCreate,
    response=RewardOut,
    status=201,
)
def create_reward(call: Call[RewardCreate, None]) -> Reply:
    """A reward customers exchange points for: its points cost, stock (null: unlimited),
    per-customer limit, validity window and the lowest tier that may redeem it."""
    reward = service.create_reward(call.tenant, call.body.to_draft())
    reply = _reward_reply(reward, 201)
    reply.headers["Location"] = f"/v1/rewards/{reward.id}"
    return reply


@rewards_api.operation(
    "GET",
    "/v1/rewards",
    summary="List the rewards catalogue",
    tag="rewards",
    query=PageQuery,
    response=RewardPage,
)
def list_rewards(call: Call[None, PageQuery]) -> Reply:
    """Every reward, inactive and spent ones included, oldest first."""
    page = service.list_rewards(call.tenant, PageRequest(call.query.limit, call.query.cursor))
    return _page(page.items, page.next_cursor)


@rewards_api.operation(
    "GET",
    "/v1/rewards/{reward_id}",
    summary="Get a reward",
    tag="rewards",
    response=RewardOut,
    extra_responses=(404,),
)
def get_reward(call: Call[None, None], reward_id: str) -> Reply:
    """The reward with its stock left and its ETag (the definition's version)."""
    return _reward_reply(service.get_reward(call.tenant, reward_id))


@rewards_api.operation(
    "PATCH",
    "/v1/rewards/{reward_id}",
    summary="Update a reward",
    tag="rewards",
    body=RewardPatch,
    response=RewardOut,
    extra_responses=(404, 412),
)
def update_reward(call: Call[RewardPatch, None], reward_id: str) -> Reply:
    """Fields sent replace, `null` clears an optional one. A `stock` sent is what remains
    from now on. Send `If-Match` with the ETag to change only the version you read."""
    reward = service.update_reward(
        call.tenant, reward_id, call.body.to_changes(), call.if_match_version()
    )
    return _reward_reply(reward)


@rewards_api.operation(
    "GET",
    "/v1/customers/{customer_id}/rewards",
    summary="A customer's reward redemptions",
    tag="rewards",
    query=PageQuery,
    response=RedemptionPage,
    extra_responses=(404,),
)
def list_customer_redemptions(call: Call[None, PageQuery], customer_id: str) -> Reply:
    """The customer's redemptions, newest first."""
    page = service.list_redemptions(
        call.tenant, customer_id, PageRequest(call.query.limit, call.query.cursor)
    )
    return Reply(RedemptionPage(items=page.items, next_cursor=page.next_cursor))


@rewards_api.operation(
    "GET",
    "/v1/customers/{customer_id}/rewards/available",
    summary="Rewards a customer may redeem now",
    tag="rewards",
    query=PageQuery,
    response=RewardPage,
    extra_responses=(404,),
)
def list_available_rewards(call: Call[None, PageQuery], customer_id: str) -> Reply:
    """The page of the catalogue the customer could redeem now: active, within validity,
    in stock and its tier reached (a page may hold fewer items than `limit`; follow
    `next_cursor`). Points are not checked: the balance is on `/points`."""
    page = service.rewards_for_customer(
        call.tenant, customer_id, PageRequest(call.query.limit, call.query.cursor)
    )
    return _page(page.items, page.next_cursor)


@rewards_api.operation(
    "POST",
    "/v1/customers/{customer_id}/rewards/{reward_id}/redeem",
    summary="Redeem a reward",
    tag="rewards",
    response=RewardRedemptionRecord,
    status=201,
    extra_responses=(404, 409),
)
def redeem_reward(call: Call[None, None], customer_id: str, reward_id: str) -> Reply:
    """Debits the reward's points and one unit of its stock in one transaction. 409
    `insufficient-points`, `out-of-stock`, `redemption-limit-reached` or
    `reward-unavailable` (with `reason`). Send an `Idempotency-Key` to make retries safe."""
    redemption = service.redeem_reward(
        call.tenant, customer_id, reward_id, call.actor, call.idempotency_key()
    )
    return Reply(redemption, 201)
