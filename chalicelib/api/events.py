"""Segment event routes: what failed to reach the webhook, and replaying it."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.domain.paging import PageRequest
from chalicelib.schemas.common import PageQuery
from chalicelib.schemas.segments import EventOut, EventPage
from chalicelib.services import segment_events as service

events_api = Operations(__name__)


@events_api.operation(
    "GET",
    "/v1/events/failed",
    summary="Failed segment events",
    tag="events",
    query=PageQuery,
    response=EventPage,
)
def list_failed_events(call: Call[None, PageQuery]) -> Reply:
    """Segment entries and exits whose delivery (webhook, with retries) gave up, oldest
    first. Kept 30 days."""
    page = service.list_failed(call.tenant, PageRequest(call.query.limit, call.query.cursor))
    return Reply(
        EventPage(items=[EventOut.of(e) for e in page.items], next_cursor=page.next_cursor)
    )


@events_api.operation(
    "POST",
    "/v1/events/{event_id}/replay",
    summary="Replay a segment event",
    tag="events",
    response=EventOut,
    status=202,
    extra_responses=(404,),
)
def replay_event(call: Call[None, None], event_id: str) -> Reply:
    """Puts the event back to `pending`; it is delivered again within seconds."""
    return Reply(EventOut.of(service.replay(call.tenant, event_id)), 202)
