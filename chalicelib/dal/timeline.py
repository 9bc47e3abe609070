"""The customer's timeline: the registry of timeline sources and the page that merges them.

A timeline source is a sort-key prefix of the customer's partition (`pk T#{t}#CUS#{id}`)
and how one of its items becomes a `TimelineEntry`. Adding a kind of entry (feedback, …)
is one more `TimelineSource` in `TIMELINE_SOURCES`. See
docs/data-model.md, "One timeline".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.dal import keys
from chalicelib.dal.campaign_models import CampaignMessageItem
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import decode_cursor, encode_cursor
from chalicelib.dal.models import DataTableModel, InteractionItem, TicketEventItem
from chalicelib.domain.errors import MalformedRequest
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.timeline import (
    CAMPAIGN_MESSAGE_TYPE,
    INTERACTION_TYPES,
    TICKET_EVENT_TYPES,
    CampaignMention,
    Position,
    Positioned,
    SourcePage,
    TicketMention,
    TimelineEntry,
    Window,
    merge_newest_first,
)

# The sortable-timestamp bounds of a whole prefix.
_EARLIEST, _LATEST = "0", "~"


@dataclass(frozen=True)
class TimelineSource:
    """Items under `sk_prefix` in the customer's partition, sk `{prefix}{timestamp}#…`.
    `types` maps each timeline type the source yields to the item's stored `type`."""

    name: str
    sk_prefix: str
    model: type[DataTableModel]
    types: Mapping[str, str]
    to_entry: Callable[[Any], TimelineEntry]

    def query(
        self,
        tenant: TenantId,
        customer_id: str,
        window: Window,
        start: Position | None,
        limit: int,
    ) -> Iterable[Any]:
        """Newest first, one Query: the prefix between the window's bounds, filtered on
        `type` when the window wants some of the source's types only."""
        wanted = sorted(self.types[name] for name in window.types & self.types.keys())
        type_filter: Condition | None = None
        if len(wanted) < len(self.types):
            type_filter = self.model.type.is_in(*wanted)  # type: ignore[attr-defined]
        low = f"{self.sk_prefix}{window.since or _EARLIEST}"
        high = f"{self.sk_prefix}{window.until or _LATEST}"
        return self.model.query(
            keys.customer_pk(tenant, customer_id),
            self.model.sk.between(low, high),
            filter_condition=type_filter,
            consistent_read=True,
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        )

    def positioned(self, item: Any) -> Positioned[TimelineEntry]:
        sk = str(item.sk)
        return Positioned(
            order=sk.removeprefix(self.sk_prefix),
            position={"pk": {"S": item.pk}, "sk": {"S": sk}},
            entry=self.to_entry(item),
        )


def _interaction_entry(item: InteractionItem) -> TimelineEntry:
    return TimelineEntry(
        id=item.interaction_id,
        customer_id=item.customer_id,
        type=item.type,
        occurred_at=item.occurred_at,
        recorded_at=item.recorded_at,
        channel=item.channel,
        location_id=item.location_id,
        attributes=json.loads(item.custom_attributes),
        details=json.loads(item.details),
        points=int(item.points or 0),
    )


def campaign_message_entry(item: CampaignMessageItem) -> TimelineEntry:
    """`occurred_at` is the run's time, which the key sorts by (an event-triggered
    message's: the event's); `recorded_at` is when the message was recorded."""
    run_at, _ = str(item.sk).removeprefix(keys.CAMPAIGN_MESSAGE_PREFIX).rsplit("#", 1)
    return TimelineEntry(
        id=f"{item.campaign_id}/messages/{run_at}",
        customer_id=item.customer_id,
        type=CAMPAIGN_MESSAGE_TYPE,
        occurred_at=datetime.fromisoformat(run_at),
        recorded_at=item.at,
        channel=item.channel,
        campaign=CampaignMention(
            campaign_id=item.campaign_id,
            status=item.status,
            offer_id=item.offer_id,
            coupon_code=item.coupon_code,
            delivered_at=item.delivered_at,
        ),
    )


def _ticket_event_entry(item: TicketEventItem) -> TimelineEntry:
    seq = int(item.seq)
    return TimelineEntry(
        id=f"{item.ticket_id}/events/{seq}",
        customer_id=item.customer_id,
        type=TICKET_EVENT_TYPES[item.type],
        occurred_at=item.occurred_at,
        recorded_at=item.occurred_at,
        ticket=TicketMention(
            ticket_id=item.ticket_id,
            seq=seq,
            event=item.type,
            subject=item.subject,
            category=item.category,
            priority=item.priority,
            actor_role=item.actor_role,
            from_status=item.from_status,
            to_status=item.to_status,
            score=int(item.score) if item.score is not None else None,
            note=item.note,
        ),
    )


TIMELINE_SOURCES: tuple[TimelineSource, ...] = (
    TimelineSource(
        name="interactions",
        sk_prefix=keys.INTERACTION_PREFIX,
        model=InteractionItem,
        types={kind: kind for kind in INTERACTION_TYPES},
        to_entry=_interaction_entry,
    ),
    TimelineSource(
        name="ticket_events",
        sk_prefix=keys.TICKET_EVENT_PREFIX,
        model=TicketEventItem,
        types={shown: stored for stored, shown in TICKET_EVENT_TYPES.items()},
        to_entry=_ticket_event_entry,
    ),
    TimelineSource(
        name="campaign_messages",
        sk_prefix=keys.CAMPAIGN_MESSAGE_PREFIX,
        model=CampaignMessageItem,
        types={CAMPAIGN_MESSAGE_TYPE: CAMPAIGN_MESSAGE_TYPE},
        to_entry=campaign_message_entry,
    ),
)


def _fingerprint(customer_id: str, window: Window) -> str:
    types = ",".join(sorted(window.types))
    return f"timeline:{customer_id}:{types}:{window.since or ''}:{window.until or ''}"


def _resume_positions(
    tenant: TenantId, fingerprint: str, cursor: str | None, sources: Iterable[TimelineSource]
) -> dict[str, Position | None]:
    if cursor is None:
        return {source.name: None for source in sources}
    positions = decode_cursor(tenant, fingerprint, cursor).get("sources")
    if not isinstance(positions, dict):
        raise MalformedRequest("cursor is not valid for this query; start again without a cursor")
    return positions


def list_timeline(
    tenant: TenantId, customer_id: str, window: Window, page: PageRequest
) -> Page[TimelineEntry]:
    """Newest first: one Query per source the window wants (one when the types come from
    one source), merged; the cursor holds every unfinished source's position."""
    bound_settings()
    fingerprint = _fingerprint(customer_id, window)
    sources = [source for source in TIMELINE_SOURCES if window.types & source.types.keys()]
    resume_from = _resume_positions(tenant, fingerprint, page.cursor, sources)
    asked = page.limit + 1
    pages = {
        source.name: SourcePage(
            [
                source.positioned(item)
                for item in source.query(
                    tenant, customer_id, window, resume_from[source.name], asked
                )
            ],
            asked,
        )
        for source in sources
        if source.name in resume_from
    }
    merged = merge_newest_first(pages, resume_from, page.limit)
    cursor = (
        encode_cursor(tenant, fingerprint, {"sources": merged.resume}) if merged.resume else None
    )
    return Page(merged.entries, cursor)
