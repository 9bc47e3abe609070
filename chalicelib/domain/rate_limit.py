"""A token bucket per tenant: `rate` tokens a second refill a bucket of `burst`.

This is the in-application limiter of the local stage (one process). Deployed, API Gateway
usage plans do the same per tenant key, before Lambda is invoked (see docs/security.md).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, rate: float, burst: int, now: float) -> float:
        """Take one token; answers 0 when granted, else the seconds until one is free."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=float(burst), updated=now)
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / rate


def retry_after_seconds(wait: float) -> int:
    return max(1, math.ceil(wait))
