"""Interleaved sampling: a subject and its baselines take turns, in rotating order."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


def rotation(names: list[str], round_number: int) -> list[str]:
    """The order of one round: AB, BA, AB, … (ABC, BCA, CAB, … for three)."""
    shift = round_number % len(names)
    return names[shift:] + names[:shift]


def interleave(
    samplers: Mapping[str, Callable[[], T]], rounds: int, warmup: int = 0
) -> dict[str, list[T]]:
    """Call every sampler once per round, the order rotating from round to round, so that a
    slow spell of a shared machine falls on all of them alike. The first `warmup` rounds are
    run and dropped."""
    names = list(samplers)
    samples: dict[str, list[T]] = {name: [] for name in names}
    for round_number in range(warmup + rounds):
        for name in rotation(names, round_number):
            sample = samplers[name]()
            if round_number >= warmup:
                samples[name].append(sample)
    return samples


def timed(action: Callable[[], object]) -> Callable[[], float]:
    """A sampler answering how long `action` took, in milliseconds."""

    def sample() -> float:
        started = time.perf_counter()
        action()
        return (time.perf_counter() - started) * 1000

    return sample
