"""Garbage collection during a cold start.

A cold start creates well over 100,000 objects that live as long as the process (modules,
classes, functions, botocore's service model), most of them while the first invocation imports
its code path. With the default threshold the cyclic collector scans them again and again as
they pile up: about 45 collections and 30 ms of a first `GET /v1/customers/{id}` that takes
about 390 ms in all (`benchmarks/cold_start.py`). So from `import app` until the first
invocation has answered, a collection waits for far more new objects than usual; then
everything alive is frozen (`gc.freeze`: start-up objects are never garbage, so later
collections skip them) and the usual threshold returns. The collector is never switched off:
a process that imports app and never invokes it (a test worker, `chalice package`) still
collects, only less often.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import wraps
from typing import Any

COLD_START_THRESHOLD = 100_000
"""New objects between two collections of the youngest generation while the process starts
(the default is 2,000)."""


class ColdStartCollection:
    def __init__(self) -> None:
        self._usual_thresholds: tuple[int, ...] | None = None

    def space_out(self) -> None:
        """Called once, when app.py is imported."""
        if self._usual_thresholds is None:
            self._usual_thresholds = gc.get_threshold()
            gc.set_threshold(COLD_START_THRESHOLD, *self._usual_thresholds[1:])

    def settle_after_first_invocation(self, event: Any, get_response: Callable[[Any], Any]) -> Any:
        """Chalice middleware for every kind of invocation: once the first one has answered
        (or failed), freeze what start-up created and restore the usual thresholds."""
        try:
            return get_response(event)
        finally:
            if self._usual_thresholds is not None:
                gc.freeze()
                gc.set_threshold(*self._usual_thresholds)
                self._usual_thresholds = None

    def settling(self, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """`handler` settling the cold start after its first call, for the handlers Chalice
        runs no middleware around (the API Gateway authoriser)."""

        @wraps(handler)
        def settle_then_handle(event: Any) -> Any:
            return self.settle_after_first_invocation(event, handler)

        return settle_then_handle
