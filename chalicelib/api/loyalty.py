"""Points routes: balance and tier, the ledger, redemptions and adjustments."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.domain.outcomes import PointsMovement, PointsSummary
from chalicelib.domain.paging import PageRequest
from chalicelib.schemas.common import PageQuery
from chalicelib.schemas.loyalty import AdjustBody, LedgerPage, RedeemBody
from chalicelib.services import loyalty as service

loyalty_api = Operations(__name__)


@loyalty_api.operation(
    "GET",
    "/v1/customers/{customer_id}/points",
    summary="Points balance and tier",
    tag="points",
    response=PointsSummary,
    extra_responses=(404,),
)
def get_points(call: Call[None, None], customer_id: str) -> Reply:
    """The available balance (expired points never count), lifetime points, what expires in
    the next 30 days, the tier and what the next one takes."""
    return Reply(service.points_summary(call.tenant, customer_id))


@loyalty_api.operation(
    "GET",
    "/v1/customers/{customer_id}/points/transactions",
    summary="The points ledger",
    tag="points",
    query=PageQuery,
    response=LedgerPage,
    extra_responses=(404,),
)
def list_points_transactions(call: Call[None, PageQuery], customer_id: str) -> Reply:
    """Immutable entries, newest first: earn, redeem, adjust, expire, reverse, tier_change."""
    page = service.list_transactions(
        call.tenant, customer_id, PageRequest(call.query.limit, call.query.cursor)
    )
    return Reply(LedgerPage(items=page.items, next_cursor=page.next_cursor))


@loyalty_api.operation(
    "POST",
    "/v1/customers/{customer_id}/points/redeem",
    summary="Redeem points",
    tag="points",
    body=RedeemBody,
    response=PointsMovement,
    status=201,
    extra_responses=(404, 409),
)
def redeem_points(call: Call[RedeemBody, None], customer_id: str) -> Reply:
    """Spends points from the lots that expire first. 409 `insufficient-points` when the
    available balance is lower. Send an `Idempotency-Key` to make retries safe."""
    body = call.body
    movement = service.redeem_points(
        call.tenant,
        customer_id,
        body.points,
        body.reason,
        body.reference,
        call.actor,
        call.idempotency_key(),
    )
    return Reply(movement, 201)


@loyalty_api.operation(
    "POST",
    "/v1/customers/{customer_id}/points/adjust",
    summary="Adjust points",
    tag="points",
    body=AdjustBody,
    response=PointsMovement,
    status=201,
    extra_responses=(404, 409),
)
def adjust_points(call: Call[AdjustBody, None], customer_id: str) -> Reply:
    """A signed manual correction with a reason; a deduction cannot exceed the balance."""
    body = call.body
    movement = service.adjust_points(
        call.tenant,
        customer_id,
        body.points,
        body.reason,
        body.reference,
        call.actor,
        call.idempotency_key(),
    )
    return Reply(movement, 201)
