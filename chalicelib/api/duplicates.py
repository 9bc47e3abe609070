"""Duplicate detection routes (issue 16): candidate pairs per customer and tenant-wide,
and dismissing a pair."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.domain.paging import PageRequest
from chalicelib.schemas.duplicates import (
    DuplicateCandidateOut,
    DuplicateCandidatePage,
    DuplicatePairOut,
    DuplicatePairPage,
    DuplicateQuery,
)
from chalicelib.services import duplicates as service

duplicates_api = Operations(__name__)


@duplicates_api.operation(
    "GET",
    "/v1/customers/{customer_id}/duplicates",
    summary="A customer's duplicate candidates",
    tag="duplicates",
    query=DuplicateQuery,
    response=DuplicateCandidatePage,
    extra_responses=(404,),
)
def list_customer_duplicates(call: Call[None, DuplicateQuery], customer_id: str) -> Reply:
    """Profiles that may be the same customer, highest score first, with the reasons
    (`email`, `phone`, `external_id`, `name+birthday`, `name+address`). Kept current from
    the data stream within seconds of a profile's change; dismissed pairs are left out."""
    query = call.query
    page = service.list_customer_duplicates(
        call.tenant, customer_id, query.min_score, PageRequest(query.limit, query.cursor)
    )
    return Reply(
        DuplicateCandidatePage(
            items=[DuplicateCandidateOut.of(c) for c in page.items], next_cursor=page.next_cursor
        )
    )


@duplicates_api.operation(
    "GET",
    "/v1/duplicates",
    summary="List duplicate candidates",
    tag="duplicates",
    query=DuplicateQuery,
    response=DuplicatePairPage,
)
def list_duplicates(call: Call[None, DuplicateQuery]) -> Reply:
    """The tenant's candidate pairs not dismissed, highest score first."""
    query = call.query
    page = service.list_duplicates(
        call.tenant, query.min_score, PageRequest(query.limit, query.cursor)
    )
    return Reply(
        DuplicatePairPage(
            items=[DuplicatePairOut.of(p) for p in page.items], next_cursor=page.next_cursor
        )
    )


@duplicates_api.operation(
    "POST",
    "/v1/duplicates/{pair_id}/dismiss",
    summary="Dismiss a duplicate candidate",
    tag="duplicates",
    response=DuplicatePairOut,
    extra_responses=(404,),
)
def dismiss_duplicate(call: Call[None, None], pair_id: str) -> Reply:
    """Marks the pair "not a duplicate": it leaves the listings until one of the two
    profiles changes a matching field (email, phone, external id, name with birthday or
    address). Dismissing it again answers the same."""
    return Reply(DuplicatePairOut.of(service.dismiss_pair(call.tenant, pair_id, call.actor)))
