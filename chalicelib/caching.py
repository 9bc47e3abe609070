"""A small per-process cache: at most `max_items` entries (least recently used evicted
first), each kept for at most its TTL.

Powertools' `LRUDict` (the bounded store its idempotency utility keeps in memory) holds the
entries; this adds the expiry. Used where a cached answer gates access (authentication, a
tenant's loyalty configuration), so a change reaches every process within the TTL and an
unbounded stream of distinct keys cannot grow a process's memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aws_lambda_powertools.shared.cache_dict import LRUDict

V = TypeVar("V")
DEFAULT_MAX_ITEMS = 1024


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    expires: float


class ExpiringLruCache(Generic[V]):
    """Entries expire `ttl` seconds after they are stored (by `clock`, monotonic seconds);
    reading an entry makes it the most recently used, not younger."""

    def __init__(
        self, max_items: int = DEFAULT_MAX_ITEMS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_items < 1:
            raise ValueError("a cache holds at least one entry")
        self.max_items = max_items
        self.clock = clock
        self._entries: LRUDict = LRUDict(max_items=max_items)

    def get(self, key: Hashable) -> V | None:
        """The live value stored under `key`, else None (an expired entry is dropped)."""
        if key not in self._entries:
            return None
        entry: _Entry[V] = self._entries[key]
        if entry.expires <= self.clock():
            del self._entries[key]
            return None
        return entry.value

    def put(self, key: Hashable, value: V, ttl: float) -> None:
        """Keep `value` for `ttl` seconds; a TTL of 0 or less stores nothing."""
        if ttl <= 0:
            if key in self._entries:
                del self._entries[key]
            return
        self._entries[key] = _Entry(value, self.clock() + ttl)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return self.get(key) is not None
