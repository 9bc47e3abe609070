"""Per-tenant usage: requests and DynamoDB capacity, counted in memory and flushed in
batches (one UpdateItem per tenant and day every FLUSH_SECONDS), never a write per request.

Counts not yet flushed when a Lambda container is recycled are lost (at most
FLUSH_SECONDS' worth): usage is for operating the platform, not for billing to the unit.

Capacity comes from DynamoDB's own answers: PynamoDB asks for ReturnConsumedCapacity=TOTAL
on every call but keeps the figure to itself, so each botocore session PynamoDB makes gets
an `after-call` handler that adds it to the calling request's tenant.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import botocore.session
import pynamodb.connection.base

from chalicelib.domain.clock import utc_now
from chalicelib.domain.tenancy import TenantId

FLUSH_SECONDS = 60.0
_READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "TransactGetItems"})

_tenant: ContextVar[TenantId | None] = ContextVar("metered_tenant", default=None)


@dataclass
class _Tally:
    requests: int = 0
    reads: float = 0.0
    writes: float = 0.0


class UsageMeter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[tuple[TenantId, str], _Tally] = defaultdict(_Tally)
        self._last_flush = time.monotonic()

    def count_request(self, tenant: TenantId) -> None:
        with self._lock:
            self._tallies[(tenant, utc_now().date().isoformat())].requests += 1

    def count_capacity(self, tenant: TenantId, operation: str, units: float) -> None:
        with self._lock:
            tally = self._tallies[(tenant, utc_now().date().isoformat())]
            if operation in _READ_OPERATIONS:
                tally.reads += units
            else:
                tally.writes += units

    def flush_if_due(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        from chalicelib.dal import control

        with self._lock:
            tallies, self._tallies = self._tallies, defaultdict(_Tally)
            self._last_flush = time.monotonic()
        token = _tenant.set(None)
        try:
            for (tenant, day), tally in tallies.items():
                control.add_usage(tenant, day, tally.requests, tally.reads, tally.writes)
        finally:
            _tenant.reset(token)


meter = UsageMeter()


def metered_tenant(tenant: TenantId | None) -> object:
    """Attribute the DynamoDB calls that follow (in this context) to `tenant`."""
    return _tenant.set(tenant)


def _capacity_units(parsed: dict[str, Any]) -> float:
    consumed = parsed.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
    return float(sum(entry.get("CapacityUnits", 0) for entry in entries))


def _after_call(parsed: dict[str, Any], model: Any, **_: Any) -> None:
    tenant = _tenant.get()
    if tenant is not None and isinstance(parsed, dict):
        meter.count_capacity(tenant, model.name, _capacity_units(parsed))


_session_lock = threading.Lock()
_session: botocore.session.Session | None = None


def _metered_session() -> botocore.session.Session:
    """The process's one botocore session, for every PynamoDB connection (PynamoDB would
    make one per model class and thread, each costing tens of milliseconds cold)."""
    global _session
    with _session_lock:
        if _session is None:
            _session = botocore.session.get_session()
            _session.register("after-call.dynamodb", _after_call)
        return _session


def install() -> None:
    """Give the botocore sessions PynamoDB creates from now on the capacity handler."""
    pynamodb.connection.base.get_session = _metered_session
