"""Interaction routes: record one, record a batch, read the timeline."""

from __future__ import annotations

from chalicelib.api.access import holds_app_credentials
from chalicelib.api.problems import problem_summary
from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.domain.clock import sortable_timestamp
from chalicelib.domain.outcomes import BatchResult, InteractionRecord
from chalicelib.domain.paging import PageRequest
from chalicelib.domain.plans import limits_of
from chalicelib.domain.timeline import Window
from chalicelib.schemas.interactions import (
    BatchItemOut,
    BatchResponse,
    InteractionCreate,
    InteractionListQuery,
    InteractionPage,
    InteractionsBatch,
    ProblemSummary,
    TimelineEntryOut,
)
from chalicelib.services import loyalty as service

interactions_api = Operations(__name__)


@interactions_api.operation(
    "POST",
    "/v1/customers/{customer_id}/interactions",
    summary="Record an interaction",
    tag="interactions",
    body=InteractionCreate,
    response=InteractionRecord,
    status=201,
    extra_responses=(404, 409),
)
def record_interaction(call: Call[InteractionCreate, None], customer_id: str) -> Reply:
    """Records a touchpoint and the points it earns (or, for a refund, reverses) in one
    transaction. A repeat with the same `Idempotency-Key`, or a purchase whose `order_id`
    was already recorded, answers the first result and records nothing new. A purchase
    recorded with a customer token is held to the tenant's `app_purchases` caps (422
    `purchase-cap-exceeded` naming the cap)."""
    record = service.record_interaction(
        call.tenant,
        customer_id,
        call.body.to_draft(),
        call.actor,
        call.idempotency_key(),
        app_credentials=holds_app_credentials(call.principal),
    )
    return Reply(record, 201)


def _batch_response(result: BatchResult) -> BatchResponse:
    return BatchResponse(
        created=result.created,
        duplicates=result.duplicates,
        failed=result.failed,
        items=[
            BatchItemOut(
                index=item.index,
                outcome=item.outcome,
                interaction=item.interaction,
                problem=(
                    ProblemSummary(**problem_summary(item.error, item.detail or ""))
                    if item.error
                    else None
                ),
            )
            for item in result.items
        ],
    )


@interactions_api.operation(
    "POST",
    "/v1/interactions:batch",
    summary="Record a batch of interactions",
    tag="interactions",
    body=InteractionsBatch,
    response=BatchResponse,
    extra_responses=(409,),
)
def record_interactions_batch(call: Call[InteractionsBatch, None]) -> Reply:
    """Up to the plan's batch size (100; enterprise 500), each for the customer it names by
    `customer_id` or `external_id`. Each item's outcome is reported on its own: a bad item
    fails alone."""
    result = service.record_batch(
        call.tenant,
        call.body.parsed(),
        call.actor,
        call.idempotency_key(),
        limits_of(call.plan).max_batch_size,
    )
    return Reply(_batch_response(result))


@interactions_api.operation(
    "GET",
    "/v1/customers/{customer_id}/interactions",
    summary="A customer's timeline",
    tag="interactions",
    query=InteractionListQuery,
    response=InteractionPage,
    extra_responses=(404,),
)
def list_interactions(call: Call[None, InteractionListQuery], customer_id: str) -> Reply:
    """The customer's whole history, newest first: interactions and the events of the
    customer's tickets (`ticket_opened`, `ticket_transitioned`, `ticket_first_response`,
    `ticket_resolved`, `ticket_rated`). Filter by `type` (one, or a comma-separated list)
    and by `from` (inclusive) and `to` (exclusive). Customer tokens see no ticket notes, and
    of campaign messages only those they were sent."""
    query = call.query
    window = Window(
        types=query.types,
        since=sortable_timestamp(query.since) if query.since else None,
        until=sortable_timestamp(query.until) if query.until else None,
    )
    page = service.list_timeline(
        call.tenant,
        customer_id,
        window,
        PageRequest(query.limit, query.cursor),
        staff_view=not holds_app_credentials(call.principal),
    )
    return Reply(
        InteractionPage(
            items=[TimelineEntryOut.of_entry(entry) for entry in page.items],
            next_cursor=page.next_cursor,
        )
    )
