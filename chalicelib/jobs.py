"""Scheduled jobs: thin handlers that call one service function within the time left."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import date

from chalice.app import CloudWatchEvent

from chalicelib.observability import logger
from chalicelib.services.purge import run_due_purges

_SAFETY_MARGIN_MS = 10_000
_LOCAL_BUDGET_SECONDS = 50.0


def _as_system(job: Callable[[CloudWatchEvent], None]) -> Callable[[CloudWatchEvent], None]:
    """Run a job with its writes attributed to it (chalicelib.dal.attribution)."""

    @functools.wraps(job)
    def run(event: CloudWatchEvent) -> None:
        from chalicelib.dal.attribution import system_writer, writing_as

        with writing_as(system_writer(job.__name__, event)):
            job(event)

    return run


def _deadline(event: CloudWatchEvent) -> float:
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        seconds = max(0.0, (remaining() - _SAFETY_MARGIN_MS) / 1000)
    else:
        seconds = _LOCAL_BUDGET_SECONDS
    return time.monotonic() + seconds


@_as_system
def purge_deleted_tenants(event: CloudWatchEvent) -> None:
    """Every minute: continue the purge of every deleted tenant that is due."""
    purged = run_due_purges(_deadline(event))
    logger.info("purge run", tenants=purged)


@_as_system
def daily_loyalty(event: CloudWatchEvent) -> None:
    """00:05 UTC: record today's point expiries and the tier evaluations due today."""
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.loyalty_jobs import run_daily

    run_daily(utc_now().date())


@_as_system
def daily_segments(event: CloudWatchEvent) -> None:
    """00:15 UTC: re-evaluate the customers whose segments change by time today."""
    from chalicelib.services.segment_jobs import run_daily

    run_daily(_today(), _deadline(event))


@_as_system
def segment_backfills(event: CloudWatchEvent) -> None:
    """Every minute: continue the back-fill of new, changed or deleted custom segments."""
    from chalicelib.services.segment_jobs import run_backfills

    run_backfills(_today(), _deadline(event))


@_as_system
def audit_heartbeats(event: CloudWatchEvent) -> None:
    """Every digest period: queue every tenant, a page of ids a message, for the heartbeat
    queue's consumer, which extends each chain that is due even with no new entries, so a
    chain cut short is found by verification (docs/security.md). Appends nothing itself."""
    from chalicelib.services.audit import queue_heartbeat_pages
    from chalicelib.streams.audit_heartbeats import send_heartbeat_pages

    pages = queue_heartbeat_pages(_deadline(event), send_heartbeat_pages)
    logger.info("audit heartbeat pages queued", pages=pages)


def _today() -> date:
    from chalicelib.domain.clock import utc_now

    return utc_now().date()


@_as_system
def run_campaigns(event: CloudWatchEvent) -> None:
    """Every minute: start the campaigns that are due, queue their recipients a page a
    message for the send workers from each campaign's saved cursor within the time left,
    and end the runs whose pages are all settled."""
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.campaigns import log_run, run_due_campaigns
    from chalicelib.streams.campaign_sends import queue_pages

    log_run(run_due_campaigns(utc_now(), _deadline(event), queue_pages))
