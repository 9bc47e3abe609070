"""The customer's timeline: entries from several sources (interactions, ticket events,
campaign messages)
merged newest first, and the page arithmetic that lets one cursor resume every source.

Each source is read newest first on its own (one Query per source and page). A page is
the newest `limit` entries of what the sources returned; a source's resume position is the
key of the last entry the page took from it, or where it was before when the page took
none. A source that returned fewer entries than asked, all of them taken, is exhausted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

from chalicelib.domain.interactions import InteractionType

T = TypeVar("T")
Position = dict[str, Any]

TICKET_EVENT_TYPES: Final = {
    "created": "ticket_opened",
    "transitioned": "ticket_transitioned",
    "first_response": "ticket_first_response",
    "resolved": "ticket_resolved",
    "rated": "ticket_rated",
}
INTERACTION_TYPES: Final = frozenset(kind.value for kind in InteractionType)
CAMPAIGN_MESSAGE_TYPE: Final = "campaign_message"
TIMELINE_TYPES: Final = (
    INTERACTION_TYPES | frozenset(TICKET_EVENT_TYPES.values()) | {CAMPAIGN_MESSAGE_TYPE}
)


@dataclass(frozen=True)
class TicketMention:
    """What a ticket event entry says about its ticket. `note` is staff-only."""

    ticket_id: str
    seq: int
    event: str
    subject: str
    category: str
    priority: str
    actor_role: str
    from_status: str | None = None
    to_status: str | None = None
    score: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class CampaignMention:
    """What a campaign message entry says: its campaign, what became of it (`sent`,
    `held_out`, `no_consent`, `over_cap`, `offer_ended`), its offer and the coupon it
    issued, and when it was delivered."""

    campaign_id: str
    status: str
    offer_id: str | None = None
    coupon_code: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class TimelineEntry:
    """One entry of a customer's timeline, whatever its source. `details` holds the
    type's own fields (an interaction's amount, order id, text, …)."""

    id: str
    customer_id: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    channel: str | None = None
    location_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    points: int = 0
    ticket: TicketMention | None = None
    campaign: CampaignMention | None = None

    def shown_to_customer(self) -> bool:
        """A customer token sees the campaign messages it was sent, not those held out
        (the control group), refused by consent, over the cap or otherwise not sent."""
        return self.campaign is None or self.campaign.status == "sent"

    def for_customer(self) -> TimelineEntry:
        """The entry as a customer token sees it: no staff-only ticket notes."""
        if self.ticket is None or self.ticket.note is None:
            return self
        return replace(self, ticket=replace(self.ticket, note=None))


@dataclass(frozen=True)
class Window:
    """Which entries a timeline read wants: `types` (timeline type names, never empty)
    and sortable timestamps `since` (inclusive) and `until` (exclusive)."""

    types: frozenset[str]
    since: str | None
    until: str | None


@dataclass(frozen=True)
class Positioned(Generic[T]):
    """An entry as its source returned it: `order` sorts it among all sources' entries
    (the sortable timestamp first), `position` resumes its source after it."""

    order: str
    position: Position
    entry: T


@dataclass(frozen=True)
class SourcePage(Generic[T]):
    """One source's Query: up to `asked` entries, newest first."""

    entries: Sequence[Positioned[T]]
    asked: int


@dataclass(frozen=True)
class MergedPage(Generic[T]):
    """The page's entries and, per source not yet exhausted, where it resumes (None:
    from its start). `resume` is empty when every source is exhausted."""

    entries: list[T]
    resume: dict[str, Position | None]


def merge_newest_first(
    pages: Mapping[str, SourcePage[T]],
    resume_from: Mapping[str, Position | None],
    limit: int,
) -> MergedPage[T]:
    """The newest `limit` entries of the sources' pages, and where each source resumes."""
    candidates = sorted(
        ((entry.order, name, entry) for name, page in pages.items() for entry in page.entries),
        key=lambda candidate: (candidate[0], candidate[1]),
        reverse=True,
    )[:limit]
    resume: dict[str, Position | None] = {}
    for name, page in pages.items():
        taken = [entry for _, source, entry in candidates if source == name]
        if len(taken) == len(page.entries) and len(page.entries) < page.asked:
            continue
        resume[name] = taken[-1].position if taken else resume_from.get(name)
    return MergedPage([entry.entry for _, _, entry in candidates], resume)


def parse_types(text: str | None) -> frozenset[str]:
    """A comma-separated list of timeline types (empty: every type). Raises ValueError
    naming the unknown ones."""
    if text is None or not text.strip():
        return frozenset()
    wanted = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(wanted - TIMELINE_TYPES)
    if unknown:
        raise ValueError(
            f"unknown type {', '.join(unknown)}; known: {', '.join(sorted(TIMELINE_TYPES))}"
        )
    return wanted
