"""Runs the app's scheduled functions locally, as EventBridge would invoke them deployed.

Each `@app.schedule` handler is called with a Scheduled Event on its own rate (Rate
expressions; a Cron expression runs once a day locally). LOCAL_SCHEDULE_SECONDS, when set,
replaces every interval (the tests use a short one).
"""

from __future__ import annotations

import importlib
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalice.app import Rate, ScheduledEventConfig

_SECONDS = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}
_ONE_DAY = 86400.0


def _interval(config: ScheduledEventConfig) -> float:
    override = os.environ.get("LOCAL_SCHEDULE_SECONDS")
    if override:
        return float(override)
    expression = config.schedule_expression
    if isinstance(expression, Rate):
        return float(expression.value * _SECONDS[expression.unit])
    return _ONE_DAY


def scheduled_event(name: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "resources": [f"arn:aws:events:local:000000000000:rule/{name}"],
        "detail": {},
    }


class LocalSchedule:
    def __init__(self, app_module: str = "app") -> None:
        self._app_module = app_module
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> list[str]:
        module = importlib.import_module(self._app_module)
        started = []
        for config in module.app.event_sources:
            if isinstance(config, ScheduledEventConfig):
                handler = getattr(module, config.handler_string.rsplit(".", 1)[-1])
                thread = threading.Thread(
                    target=self._run, args=(config.name, handler, _interval(config)), daemon=True
                )
                thread.start()
                self._threads.append(thread)
                started.append(config.name)
        return started

    def _run(self, name: str, handler: Callable[[Any, Any], Any], interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                handler(scheduled_event(name), None)
            except Exception as error:  # noqa: BLE001 - a failed run is reported, the next runs
                print(f"scheduled function {name} failed: {error!r}", flush=True)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
