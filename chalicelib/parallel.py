"""Independent work of one request on threads (a batch's items recorded one at a time)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def run_all(tasks: Sequence[Callable[[], T]], max_workers: int) -> list[T]:
    """Each task's answer, in order; the tasks run on up to `max_workers` threads (one task
    runs on the caller's). Each thread runs in a copy of the caller's context, so what the
    request set there (its tenant, its writer) holds for the task too; the first exception
    a task raises is raised here, after every task has ended."""
    if len(tasks) <= 1:
        return [task() for task in tasks]
    request_context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=min(max_workers, len(tasks))) as pool:
        futures = [pool.submit(request_context.copy().run, task) for task in tasks]
    return [future.result() for future in futures]
