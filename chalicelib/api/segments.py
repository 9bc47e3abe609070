"""Segment routes: built-in and custom segments, their members, a customer's segments."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply, etag_for
from chalicelib.domain.paging import PageRequest
from chalicelib.schemas.common import PageQuery
from chalicelib.schemas.segments import (
    CustomerSegmentsOut,
    MemberPage,
    SegmentBody,
    SegmentList,
    SegmentOut,
)
from chalicelib.services import segments as service

segments_api = Operations(__name__)


def _segment_reply(summary: service.SegmentSummary, status: int = 200) -> Reply:
    headers = {"ETag": etag_for(summary.version)} if summary.version else {}
    return Reply(SegmentOut.of(summary), status, headers)


@segments_api.operation(
    "GET", "/v1/segments", summary="List segments", tag="segments", response=SegmentList
)
def list_segments(call: Call[None, None]) -> Reply:
    """Built-in and custom segments with their member counts."""
    items = [SegmentOut.of(s) for s in service.list_segments(call.tenant)]
    return Reply(SegmentList(items=items))


@segments_api.operation(
    "POST",
    "/v1/segments",
    summary="Create a custom segment",
    tag="segments",
    body=SegmentBody,
    response=SegmentOut,
    status=201,
)
def create_segment(call: Call[SegmentBody, None]) -> Reply:
    """A rule segment. Existing customers are evaluated by a back-fill whose progress shows
    as `backfill`; new changes are evaluated by the stream within seconds."""
    body = call.body
    summary = service.create_segment(call.tenant, body.name, body.description, body.rule)
    reply = _segment_reply(summary, 201)
    reply.headers["Location"] = f"/v1/segments/{summary.id}"
    return reply


@segments_api.operation(
    "GET",
    "/v1/segments/{segment_id}",
    summary="Get a segment",
    tag="segments",
    response=SegmentOut,
    extra_responses=(404,),
)
def get_segment(call: Call[None, None], segment_id: str) -> Reply:
    """A built-in (e.g. `lifecycle:active`) or custom segment with its member count."""
    return _segment_reply(service.get_segment(call.tenant, segment_id))


@segments_api.operation(
    "PUT",
    "/v1/segments/{segment_id}",
    summary="Replace a custom segment",
    tag="segments",
    body=SegmentBody,
    response=SegmentOut,
    extra_responses=(404, 412),
)
def replace_segment(call: Call[SegmentBody, None], segment_id: str) -> Reply:
    """A changed rule starts a new back-fill. `If-Match` guards against lost updates."""
    body = call.body
    summary = service.replace_segment(
        call.tenant, segment_id, body.name, body.description, body.rule, call.if_match_version()
    )
    return _segment_reply(summary)


@segments_api.operation(
    "DELETE",
    "/v1/segments/{segment_id}",
    summary="Delete a custom segment",
    tag="segments",
    status=204,
    extra_responses=(404, 422),
)
def delete_segment(call: Call[None, None], segment_id: str) -> Reply:
    """Gone at once from reads; a back-fill removes its memberships afterwards."""
    service.delete_segment(call.tenant, segment_id)
    return Reply(None, 204)


@segments_api.operation(
    "GET",
    "/v1/segments/{segment_id}/members",
    summary="List a segment's members",
    tag="segments",
    query=PageQuery,
    response=MemberPage,
    extra_responses=(404,),
)
def list_segment_members(call: Call[None, PageQuery], segment_id: str) -> Reply:
    """Customer ids, one Query per membership shard read."""
    page = service.list_members(
        call.tenant, segment_id, PageRequest(call.query.limit, call.query.cursor)
    )
    return Reply(MemberPage(items=page.items, next_cursor=page.next_cursor))


@segments_api.operation(
    "GET",
    "/v1/customers/{customer_id}/segments",
    summary="A customer's segments",
    tag="segments",
    response=CustomerSegmentsOut,
    extra_responses=(404,),
)
def get_customer_segments(call: Call[None, None], customer_id: str) -> Reply:
    """The segments the customer belongs to, its RFM scores, and when they next change."""
    state = service.customer_segments(call.tenant, customer_id)
    return Reply(CustomerSegmentsOut.of(customer_id, state))
