"""One timeline (issue 16): the merge of the sources' ordered streams, page by page, with a
cursor that resumes each source; the type filter's parsing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.dal.cursors import decode_cursor, encode_cursor
from chalicelib.domain.errors import MalformedRequest
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.timeline import (
    TIMELINE_TYPES,
    Position,
    Positioned,
    SourcePage,
    merge_newest_first,
    parse_types,
)
from chalicelib.settings import reset_settings
from tests.support.settings import DEPLOYED_ENVIRON

Stream = list[str]  # one source's order keys, newest first


class FakeSource:
    """A source holding `keys` newest first; `read` answers up to `limit` after a position
    (the index of the last key returned), as a Query with ExclusiveStartKey would."""

    def __init__(self, keys: Stream) -> None:
        self.keys = sorted(keys, reverse=True)

    def read(self, start: Position | None, limit: int) -> SourcePage[str]:
        first = 0 if start is None else int(start["after"]) + 1
        chosen = range(first, min(first + limit, len(self.keys)))
        return SourcePage(
            [Positioned(self.keys[i], {"after": i}, self.keys[i]) for i in chosen], limit
        )


def _walk(sources: dict[str, FakeSource], limit: int) -> Iterator[list[str]]:
    resume: dict[str, Position | None] = {name: None for name in sources}
    while True:
        pages = {name: sources[name].read(resume[name], limit + 1) for name in resume}
        merged = merge_newest_first(pages, resume, limit)
        yield merged.entries
        if not merged.resume:
            return
        resume = merged.resume


def _keys(prefix: str) -> st.SearchStrategy[Stream]:
    return st.lists(
        st.integers(min_value=0, max_value=10_000).map(lambda n: f"{n:05d}#{prefix}"),
        unique=True,
        max_size=30,
    )


# Generation is cheap; only a loaded machine makes it slow.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(interactions=_keys("int"), ticket_events=_keys("tkt"), limit=st.integers(1, 12))
def test_paging_the_merge_yields_every_entry_once_newest_first(
    interactions: Stream, ticket_events: Stream, limit: int
) -> None:
    # Given two sources, each ordered newest first
    sources = {"interactions": FakeSource(interactions), "tickets": FakeSource(ticket_events)}

    # When the merged timeline is read page by page
    pages = list(_walk(sources, limit))

    # Then the pages, concatenated, are both streams merged newest first, none repeated,
    # no page over the limit and no empty page but a lone first one
    flat = [entry for page in pages for entry in page]
    assert flat == sorted(interactions + ticket_events, reverse=True)
    assert all(len(page) <= limit for page in pages)
    assert all(pages[:-1]) and (pages[-1] or len(pages) == 1)


def test_a_source_the_page_took_nothing_from_keeps_its_position() -> None:
    # Given one source with only old entries and one with many new ones
    resume: dict[str, Position | None] = {"old": {"after": 4}, "new": None}
    pages = {
        "old": SourcePage([Positioned("1000", {"after": 5}, "old-5")], 3),
        "new": SourcePage([Positioned(f"900{n}", {"after": n}, f"new-{n}") for n in (9, 8, 7)], 3),
    }

    # When a page of two is merged
    merged = merge_newest_first(pages, resume, 2)

    # Then it takes the two newest and the old source resumes where it was
    assert merged.entries == ["new-9", "new-8"]
    assert merged.resume == {"old": {"after": 4}, "new": {"after": 8}}


def test_a_source_that_ran_out_leaves_the_cursor() -> None:
    # Given a source that returned fewer entries than asked, all taken
    pages = {
        "done": SourcePage([Positioned("20", {"after": 0}, "a")], 3),
        "more": SourcePage([Positioned(f"1{n}", {"after": n}, f"b{n}") for n in (3, 2, 1)], 3),
    }

    # When a page of two is merged
    merged = merge_newest_first(pages, {"done": None, "more": None}, 2)

    # Then only the unfinished source is resumed
    assert merged.entries == ["a", "b3"]
    assert merged.resume == {"more": {"after": 3}}


@pytest.fixture
def signing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in DEPLOYED_ENVIRON.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    yield
    reset_settings()


@pytest.mark.usefixtures("signing")
def test_a_cursor_holding_both_positions_round_trips() -> None:
    # Given the positions of both sources
    positions = {
        "sources": {
            "interactions": {"pk": {"S": "T#t1#CUS#c"}, "sk": {"S": "INT#2026#int_1"}},
            "ticket_events": None,
        }
    }
    tenant = TenantId("t1")

    # When they are encoded and decoded for the same tenant and query
    cursor = encode_cursor(tenant, "timeline:c:purchase::", positions)

    # Then they come back unchanged, and another tenant or query cannot use them
    assert decode_cursor(tenant, "timeline:c:purchase::", cursor) == positions
    with pytest.raises(MalformedRequest):
        decode_cursor(TenantId("t2"), "timeline:c:purchase::", cursor)
    with pytest.raises(MalformedRequest):
        decode_cursor(tenant, "timeline:c:visit::", cursor)


def test_types_parse_from_a_comma_list() -> None:
    assert parse_types(None) == frozenset()
    assert parse_types(" purchase , ticket_resolved,") == {"purchase", "ticket_resolved"}
    assert {"ticket_opened", "ticket_rated", "visit"} <= TIMELINE_TYPES
    with pytest.raises(ValueError, match="unknown type bogus"):
        parse_types("purchase,bogus")
