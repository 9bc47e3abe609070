"""Alarms, all sent to the stage's alarm topic (subscribe to it: docs/deployment.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from chalicelib.streams_config import ON_FAILURE_QUEUE
from infra.queues import WiredQueue
from infra.stages import StageSettings
from infra.streams import WiredConsumer

PERIOD = Duration.minutes(5)


class ServiceAlarms(Construct):
    """The alarm topic and every alarm of a stage."""

    def __init__(
        self, scope: Construct, construct_id: str, key: kms.IKey, stage: StageSettings
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.topic = sns.Topic(
            self, "Topic", topic_name=stage.resource_name("alarms"), master_key=key
        )
        # CloudWatch publishes to the encrypted topic only if the key lets it.
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.alarms: list[cloudwatch.Alarm] = []

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=self.stage.resource_name(construct_id),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def for_functions(self, function_names: Mapping[str, str]) -> None:
        """Errors and throttles of each function (logical id → deployed function name)."""
        thresholds = self.stage.alarms
        for logical_id, function_name in function_names.items():
            dimensions = {"FunctionName": function_name}
            for metric_name, threshold in (
                ("Errors", thresholds.lambda_errors_per_5_minutes),
                ("Throttles", thresholds.lambda_throttles_per_5_minutes),
            ):
                self._alarm(
                    f"{logical_id}{metric_name}",
                    cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name=metric_name,
                        dimensions_map=dimensions,
                        statistic="Sum",
                        period=PERIOD,
                    ),
                    threshold,
                    f"{function_name}: {metric_name.lower()} in 5 minutes",
                )

    def for_tables(self, tables: Mapping[str, dynamodb.Table]) -> None:
        """Throttled reads and writes of each table (its indexes' throttles count too)."""
        for name, table in tables.items():
            throttles = cloudwatch.MathExpression(
                expression="reads + writes",
                using_metrics={
                    "reads": table.metric("ReadThrottleEvents", statistic="Sum", period=PERIOD),
                    "writes": table.metric("WriteThrottleEvents", statistic="Sum", period=PERIOD),
                },
                label=f"{name} throttle events",
                period=PERIOD,
            )
            self._alarm(
                f"{name}TableThrottles",
                throttles,
                self.stage.alarms.dynamodb_throttles_per_5_minutes,
                f"{name} table: throttled requests in 5 minutes",
            )

    def for_api(self, api_name: str, api_stage: str) -> None:
        """The share of requests API Gateway answered with a 5xx."""
        rate = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map={"ApiName": api_name, "Stage": api_stage},
            statistic="Average",
            period=PERIOD,
        )
        self._alarm(
            "Api5xxRate",
            rate,
            self.stage.alarms.api_5xx_rate,
            f"{api_name}: share of 5xx answers at or above {self.stage.alarms.api_5xx_rate:.0%}",
            evaluation_periods=self.stage.alarms.api_5xx_evaluation_periods,
        )

    def for_stream_consumers(
        self, consumers: Iterable[WiredConsumer], function_names: Mapping[str, str]
    ) -> None:
        """How far behind each consumer is, and batches it gave up on."""
        for wired in consumers:
            function_name = function_names[wired.function]
            self._alarm(
                f"{wired.function}IteratorAge",
                cloudwatch.Metric(
                    namespace="AWS/Lambda",
                    metric_name="IteratorAge",
                    dimensions_map={"FunctionName": function_name},
                    statistic="Maximum",
                    period=PERIOD,
                ),
                wired.consumer.iterator_age_alarm_seconds * 1000,
                f"{function_name}: oldest stream record waited too long (milliseconds)",
            )
            self._alarm(
                f"{wired.function}OnFailureQueueDepth",
                wired.on_failure_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                ON_FAILURE_QUEUE.alarm_threshold_messages,
                f"{function_name}: stream batches given up on are waiting in the queue",
            )

    def for_queue_consumers(
        self, queues: Iterable[WiredQueue], function_names: Mapping[str, str]
    ) -> None:
        """Per queue with a dead-letter queue: messages waiting in it (not yet recorded by
        its consumer, or that it cannot record). Per consumer of dead letters: any message
        at all (the delivery function could not handle a message in any receive)."""
        for wired in queues:
            function_name = function_names[wired.function]
            if wired.dead_letter_queue is not None:
                self._alarm(
                    f"{wired.function}DeadLetterQueueDepth",
                    wired.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum"
                    ),
                    wired.consumer.dead_letter_alarm_threshold,
                    f"{function_name}: messages nobody recorded wait in the dead-letter queue",
                )
            else:
                self._alarm(
                    f"{wired.function}DeadLettered",
                    cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name="Invocations",
                        dimensions_map={"FunctionName": function_name},
                        statistic="Sum",
                        period=PERIOD,
                    ),
                    wired.consumer.dead_letter_alarm_threshold,
                    f"{function_name}: messages were dead-lettered (their events are failed)",
                )
