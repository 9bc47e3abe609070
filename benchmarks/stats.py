"""Order statistics over timing samples (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 to 100), interpolating linearly between closest ranks.

    The same definition as numpy's default and `statistics.quantiles(method="inclusive")`:
    p0 is the minimum, p100 the maximum, p50 the median.
    """
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """The distribution of one measurement, in the unit it was sampled in."""

    count: int
    minimum: float
    p25: float
    p50: float
    p75: float
    p90: float
    p99: float
    maximum: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(
            count=len(values),
            minimum=min(values),
            p25=percentile(values, 25),
            p50=percentile(values, 50),
            p75=percentile(values, 75),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
            maximum=max(values),
        )

    @property
    def iqr(self) -> float:
        """Interquartile range: the spread of the middle half of the samples."""
        return self.p75 - self.p25

    def scaled(self, factor: float) -> Summary:
        """The same distribution in another unit (e.g. seconds to milliseconds)."""
        return Summary(
            count=self.count,
            minimum=self.minimum * factor,
            p25=self.p25 * factor,
            p50=self.p50 * factor,
            p75=self.p75 * factor,
            p90=self.p90 * factor,
            p99=self.p99 * factor,
            maximum=self.maximum * factor,
        )


def ratio(subject: float, baseline: float) -> float:
    if baseline <= 0:
        raise ValueError("the baseline must be positive")
    return subject / baseline
