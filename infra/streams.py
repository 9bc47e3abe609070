"""Stream event source mappings: the settings Chalice's decorator cannot express.

Chalice packages `@app.on_dynamodb_record` handlers as SAM `DynamoDB` events on the
function. Each one must have an entry in chalicelib.streams_config; from it this module sets
the stream (the real table's, replacing the placeholder), batching, partial-batch failure
reporting, bisect on error, bounded retries and record age, and an on-failure SQS queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from chalice.utils import to_cfn_resource_name
from constructs import Construct

from chalicelib.streams_config import (
    ON_FAILURE_QUEUE,
    StreamConsumer,
    stream_arn_placeholder,
)
from infra.chalice_app import PackagedApp
from infra.stages import StageSettings

STREAM_EVENT_TYPES = frozenset({"DynamoDB", "Kinesis"})
SUPPORTED_EVENT_TYPES = frozenset({"DynamoDB", "Api", "Schedule", "CloudWatchEvent", "SQS"})
"""SQS events are wired by infra/queues.py."""


class StreamWiringError(ValueError):
    """The app's stream handlers and chalicelib.streams_config disagree."""


@dataclass(frozen=True)
class WiredConsumer:
    function: str
    consumer: StreamConsumer
    on_failure_queue: sqs.Queue


def _events(function: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    events: dict[str, Mapping[str, Any]] = function["Properties"].get("Events", {})
    return events


def _consumer_for_function(
    function_name: str, consumers: Mapping[str, StreamConsumer]
) -> StreamConsumer:
    matches = [c for c in consumers.values() if to_cfn_resource_name(c.handler) == function_name]
    if len(matches) != 1:
        raise StreamWiringError(
            f"stream handler {function_name} has no entry in chalicelib/streams_config.py "
            "STREAM_CONSUMERS: add one (its table, batch size, retries, record age)"
        )
    return matches[0]


def _check_consumers_exist(app: PackagedApp, consumers: Mapping[str, StreamConsumer]) -> None:
    handlers = {
        name
        for name, function in app.functions.items()
        if any(e["Type"] in STREAM_EVENT_TYPES for e in _events(function).values())
    }
    stale = [
        consumer.handler
        for consumer in consumers.values()
        if to_cfn_resource_name(consumer.handler) not in handlers
    ]
    if stale:
        raise StreamWiringError(f"STREAM_CONSUMERS names no stream handler of the app: {stale}")


def _mapping_properties(
    consumer: StreamConsumer, stream_arn: str, queue: sqs.IQueue
) -> dict[str, Any]:
    settings = consumer.settings
    return {
        "Stream": stream_arn,
        "StartingPosition": settings.starting_position.value,
        "BatchSize": settings.batch_size,
        "MaximumBatchingWindowInSeconds": settings.maximum_batching_window_seconds,
        "MaximumRetryAttempts": settings.maximum_retry_attempts,
        "BisectBatchOnFunctionError": settings.bisect_batch_on_function_error,
        "MaximumRecordAgeInSeconds": settings.maximum_record_age_seconds,
        "ParallelizationFactor": settings.parallelization_factor,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": queue.queue_arn}},
    }


def _on_failure_queue(
    scope: Construct, function_name: str, key: kms.IKey, stage: StageSettings
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        f"{function_name}OnFailureQueue",
        queue_name=stage.resource_name(f"{function_name}-on-failure"),
        retention_period=Duration.seconds(ON_FAILURE_QUEUE.retention_seconds),
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        removal_policy=stage.removal_policy,
    )


def _grant_stream_read(role: iam.IRole, table: dynamodb.ITable) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            ],
            resources=[table.table_stream_arn or ""],
        )
    )
    # ListStreams has no resource-level permission; it lists stream ARNs and reads no data.
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["dynamodb:ListStreams"], resources=["*"])
    )


def wire_stream_consumers(
    scope: Construct,
    app: PackagedApp,
    consumers: Mapping[str, StreamConsumer],
    tables: Mapping[str, dynamodb.Table],
    roles: Mapping[str, iam.Role],
    key: kms.IKey,
    stage: StageSettings,
) -> list[WiredConsumer]:
    """Configure every stream event of the app from its `StreamConsumer`; answer them."""
    _check_consumers_exist(app, consumers)
    wired = []
    for function_name, function in app.functions.items():
        for event_name, event in _events(function).items():
            if event["Type"] not in SUPPORTED_EVENT_TYPES:
                raise StreamWiringError(
                    f"{function_name}: infra/ does not wire {event['Type']} events yet"
                )
            if event["Type"] != "DynamoDB":
                continue
            consumer = _consumer_for_function(function_name, consumers)
            if consumer.table not in tables:
                raise StreamWiringError(f"{consumer.handler} reads unknown table {consumer.table}")
            if event["Properties"]["Stream"] != stream_arn_placeholder(consumer.table):
                raise StreamWiringError(
                    f"{consumer.handler} must pass stream_arn_placeholder({consumer.table!r}) "
                    "to @app.on_dynamodb_record"
                )
            table = tables[consumer.table]
            queue = _on_failure_queue(scope, function_name, key, stage)
            app.construct.get_resource(function_name).add_property_override(
                f"Events.{event_name}.Properties",
                _mapping_properties(consumer, table.table_stream_arn or "", queue),
            )
            _grant_stream_read(roles[function_name], table)
            queue.grant_send_messages(roles[function_name])
            wired.append(WiredConsumer(function_name, consumer, queue))
    return wired
