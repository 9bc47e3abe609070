"""The per-process cache behind authentication and loyalty configuration: bounded, least
recently used evicted first, entries gone after their TTL; and the settings' 5 s cap."""

from __future__ import annotations

import pytest

from chalicelib.caching import ExpiringLruCache
from chalicelib.settings import MAX_AUTH_CACHE_SECONDS, Settings, SettingsError
from tests.support.settings import DEPLOYED_ENVIRON


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_stays_at_its_bound_and_evicts_the_least_recently_used() -> None:
    # Given a cache of 3 entries, all stored, the first read again since
    cache: ExpiringLruCache[str] = ExpiringLruCache(max_items=3, clock=FakeClock())
    for name in ("first", "second", "third"):
        cache.put(name, name.upper(), ttl=5)
    assert cache.get("first") == "FIRST"

    # When more entries are stored than it holds
    for number in range(10):
        cache.put(f"extra-{number}", "x", ttl=5)
        assert len(cache) <= 3

    # Then only the newest remain; before that, the least recently used went first
    assert len(cache) == 3
    assert [cache.get(f"extra-{n}") for n in (7, 8, 9)] == ["x", "x", "x"]
    assert cache.get("first") is None


def test_reading_an_entry_protects_it_from_eviction_but_not_from_expiry() -> None:
    # Given a full cache whose oldest entry was just read
    clock = FakeClock()
    cache: ExpiringLruCache[int] = ExpiringLruCache(max_items=2, clock=clock)
    cache.put("old", 1, ttl=5)
    cache.put("young", 2, ttl=5)
    cache.get("old")

    # When a third entry arrives
    cache.put("new", 3, ttl=5)

    # Then the entry not read is evicted, and the one read lives until its TTL only
    assert cache.get("young") is None and cache.get("old") == 1
    clock.now += 4.999
    assert cache.get("old") == 1
    clock.now += 0.001
    assert cache.get("old") is None and "old" not in cache and len(cache) == 1


def test_a_ttl_of_zero_stores_nothing_and_drops_what_was_there() -> None:
    cache: ExpiringLruCache[int] = ExpiringLruCache(max_items=2, clock=FakeClock())
    cache.put("key", 1, ttl=5)

    cache.put("key", 2, ttl=0)

    assert cache.get("key") is None and len(cache) == 0


def test_the_auth_cache_ttl_defaults_to_5_seconds_and_cannot_exceed_it() -> None:
    assert Settings.from_environ(DEPLOYED_ENVIRON).auth_cache_seconds == 5 == MAX_AUTH_CACHE_SECONDS
    assert (
        Settings.from_environ({**DEPLOYED_ENVIRON, "AUTH_CACHE_SECONDS": "0"}).auth_cache_seconds
        == 0
    )
    with pytest.raises(SettingsError, match="AUTH_CACHE_SECONDS"):
        Settings.from_environ({**DEPLOYED_ENVIRON, "AUTH_CACHE_SECONDS": "60"})
