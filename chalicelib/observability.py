"""The service's one Logger and one Metrics. Personal fields (name, email, phone,
address, …) are never passed to the logger: request logs carry ids, the route template and
outcomes only.

As a second line of defence every log line goes through `PersonalDataMaskingFormatter`:
any key that names a personal field, at any depth (a body or an item image logged by
mistake included), is erased with Powertools data masking before the line is written,
and exceptions are logged with their type and stack but without their message (messages
echo input: a validation error quotes the value it refused).

Business counters (BusinessMetric) go out as CloudWatch embedded metric format lines through
Powertools Metrics, flushed at the end of every invocation by `metrics.log_metrics` (app.py
wires it as Chalice middleware); they carry the service dimension only, no tenant.
"""

from __future__ import annotations

import logging
import traceback
import warnings
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

# Keys whose values are personal wherever they appear: profile fields, free text of
# interactions, tickets, comments and ledger entries, and the bodies that carry them.
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "email",
        "phone",
        "address",
        "external_id",
        "birthday",
        "gender",
        "attributes",
        "custom_attributes",
        "tags",
        "consent",
        "text",
        "items",
        "details",
        "body",
        "subject",
        "description",
        "note",
        "comment",
        "reason",
        "reference",
        "NewImage",
        "OldImage",
    }
)
SERVICE = "customer-ops"
METRICS_NAMESPACE = "CustomerOps"
WITHHELD = "(message withheld: it may quote personal values)"


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from _keys(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _keys(inner)


def mask_personal_fields(log: dict[str, Any]) -> dict[str, Any]:
    """`log` with the value of every personal key, at any depth, erased (Powertools data
    masking; imported only when a line holds such a key, so cold starts do not pay it)."""
    present = sorted(PERSONAL_FIELDS.intersection(_keys(log)))
    if not present:
        return log
    from aws_lambda_powertools.utilities.data_masking import DataMasking

    with warnings.catch_warnings():
        # a key nested in one erased before it is gone: not worth a warning
        warnings.simplefilter("ignore")
        masked: dict[str, Any] = DataMasking(raise_on_missing_field=False).erase(
            log, fields=[f"$..{key}" for key in present]
        )
    return masked


def _error_code(error: BaseException) -> str:
    """A botocore ClientError's code (e.g. `ConditionalCheckFailedException`), no message."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class PersonalDataMaskingFormatter(LambdaPowertoolsFormatter):
    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging.Formatter's name
        kind, error, stack = ei
        code = _error_code(error) if error is not None else ""
        lines = traceback.format_tb(stack) if stack is not None else []
        return "".join(lines) + f"{kind.__name__}{f' ({code})' if code else ''}: {WITHHELD}"

    def serialize(self, log: Any) -> str:
        log = dict(log)
        stack = log.get("stack_trace")
        if isinstance(stack, dict):
            log["stack_trace"] = {**stack, "value": WITHHELD}
        log.pop("exception_notes", None)
        return super().serialize(mask_personal_fields(log))


logger = Logger(service=SERVICE, logger_formatter=PersonalDataMaskingFormatter())
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
# Most invocations count nothing; Powertools would warn about each empty flush.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)


class BusinessMetric(StrEnum):
    CUSTOMERS_CREATED = "CustomersCreated"
    POINTS_EARNED = "PointsEarned"
    POINTS_REDEEMED = "PointsRedeemed"
    TICKETS_BREACHED = "TicketsBreached"
    """Tickets resolved with an SLA target (first response or resolution) missed."""


def count(metric: BusinessMetric, value: int = 1) -> None:
    """Add `value` to a business counter of this invocation (nothing for zero)."""
    if value:
        metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)


def log_output_to(stream: Any) -> logging.Handler:
    """Point the logger's handler at `stream` (tests read what would be written)."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return handler
