"""SQS queue consumers: the queue, its dead-letter queue and the event source mapping.

Chalice packages `@app.on_sqs_message` handlers as SAM `SQS` events naming a queue by name.
Each one must have a `QueueConsumer` in chalicelib.queues_config; from it this module
creates the queue (KMS-encrypted, TLS only) with a redrive policy to its dead-letter queue
after `max_receive_count` receives, points the handler's event at it with partial-batch
failure reporting, lets the consumer (only) receive, delete and change the visibility of
its messages, lets the named senders (only) send, and gives both the queue's URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from chalice.utils import to_cfn_resource_name
from constructs import Construct

from chalicelib.queues_config import QueueConsumer, queue_placeholder
from infra.chalice_app import PackagedApp
from infra.stages import StageSettings

VISIBILITY_PER_FUNCTION_TIMEOUT = 6
"""A queue's visibility timeout is at least six times its consumer's timeout (AWS's advice
for Lambda event source mappings), so a slow batch is not received twice."""


class QueueWiringError(ValueError):
    """The app's SQS handlers and chalicelib.queues_config disagree."""


@dataclass(frozen=True)
class WiredQueue:
    """A consumer and the queue it reads; `dead_letter_queue` is None for a consumer of
    another's dead letters (its queue is that dead-letter queue)."""

    function: str
    consumer: QueueConsumer
    queue: sqs.IQueue
    dead_letter_queue: sqs.IQueue | None


def _consumer_for_function(
    function_name: str, consumers: Mapping[str, QueueConsumer]
) -> QueueConsumer:
    matches = [c for c in consumers.values() if to_cfn_resource_name(c.handler) == function_name]
    if len(matches) != 1:
        raise QueueWiringError(
            f"SQS handler {function_name} has no entry in chalicelib/queues_config.py "
            "QUEUE_CONSUMERS: add one (its queue, batch size, receives, backoff)"
        )
    return matches[0]


def _queues(
    scope: Construct,
    function_name: str,
    consumer: QueueConsumer,
    key: kms.IKey,
    stage: StageSettings,
) -> tuple[sqs.Queue, sqs.Queue]:
    dead_letters = sqs.Queue(
        scope,
        f"{function_name}DeadLetterQueue",
        queue_name=stage.resource_name(f"{consumer.queue_name}-dlq"),
        retention_period=Duration.seconds(consumer.dead_letter_retention_seconds),
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        removal_policy=stage.removal_policy,
    )
    visibility = max(
        consumer.visibility_timeout_seconds,
        VISIBILITY_PER_FUNCTION_TIMEOUT * stage.job_timeout_seconds,
    )
    queue = sqs.Queue(
        scope,
        f"{function_name}Queue",
        queue_name=stage.resource_name(consumer.queue_name),
        retention_period=Duration.seconds(consumer.retention_seconds),
        visibility_timeout=Duration.seconds(visibility),
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        removal_policy=stage.removal_policy,
        dead_letter_queue=sqs.DeadLetterQueue(
            queue=dead_letters, max_receive_count=consumer.max_receive_count
        ),
    )
    return queue, dead_letters


def _mapping_properties(consumer: QueueConsumer, queue: sqs.IQueue) -> dict[str, Any]:
    return {
        "Queue": queue.queue_arn,
        "BatchSize": consumer.batch_size,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }


def _set_queue_url(app: PackagedApp, function_name: str, consumer: QueueConsumer, url: str) -> None:
    app.construct.get_resource(function_name).add_property_override(
        f"Environment.Variables.{consumer.queue_url_variable}", url
    )


def _sqs_events(app: PackagedApp) -> list[tuple[str, str, str]]:
    """(function, event name, queue as packaged) of every SQS event; a dead-letter queue's
    consumer after the others, so the queue it reads exists by then."""
    found = []
    for function_name, function in app.functions.items():
        events: dict[str, Any] = function["Properties"].get("Events", {})
        for event_name, event in events.items():
            if event["Type"] == "SQS":
                found.append((function_name, event_name, str(event["Properties"]["Queue"])))
    return found


def wire_queue_consumers(
    scope: Construct,
    app: PackagedApp,
    consumers: Mapping[str, QueueConsumer],
    senders: Mapping[str, tuple[str, ...]],
    roles: Mapping[str, iam.Role],
    key: kms.IKey,
    stage: StageSettings,
) -> list[WiredQueue]:
    """Configure every SQS event of the app from its `QueueConsumer`; answer them.
    `senders`: queue name → the functions (logical ids) that may send to it."""
    bound = [
        (function_name, event_name, _consumer_for_function(function_name, consumers), queue)
        for function_name, event_name, queue in _sqs_events(app)
    ]
    bound.sort(key=lambda entry: entry[2].dead_letters_of is not None)
    by_queue_name: dict[str, WiredQueue] = {}
    wired = []
    for function_name, event_name, consumer, packaged_queue in bound:
        if queue_placeholder(consumer.queue_name) not in packaged_queue:
            raise QueueWiringError(
                f"{consumer.handler} must pass queue_placeholder({consumer.queue_name!r}) "
                "to @app.on_sqs_message"
            )
        dead_letters: sqs.IQueue | None
        queue: sqs.IQueue
        if consumer.dead_letters_of is None:
            queue, dead_letters = _queues(scope, function_name, consumer, key, stage)
        else:
            source = by_queue_name.get(consumer.dead_letters_of)
            if source is None or source.dead_letter_queue is None:
                raise QueueWiringError(
                    f"{consumer.handler} reads the dead letters of {consumer.dead_letters_of}, "
                    "which has no consumer in the app"
                )
            queue, dead_letters = source.dead_letter_queue, None
        app.construct.get_resource(function_name).add_property_override(
            f"Events.{event_name}.Properties", _mapping_properties(consumer, queue)
        )
        queue.grant_consume_messages(roles[function_name])
        _set_queue_url(app, function_name, consumer, queue.queue_url)
        for sender in senders.get(consumer.queue_name, ()):
            if sender not in app.functions:
                raise QueueWiringError(
                    f"{sender} (a sender to {consumer.queue_name}) is not a function of the app"
                )
            queue.grant_send_messages(roles[sender])
            _set_queue_url(app, sender, consumer, queue.queue_url)
        entry = WiredQueue(function_name, consumer, queue, dead_letters)
        by_queue_name[consumer.queue_name] = entry
        wired.append(entry)
    return wired
