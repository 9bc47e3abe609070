"""The stage's CloudWatch dashboard: the API (latency, 4xx, 5xx), the stream consumers
(iterator age, on-failure queue depth), the queue consumers (backlog, oldest message,
dead-letter queue depth), throttles (functions and tables) and the
business counters the functions emit as EMF (chalicelib.observability)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from chalicelib.observability import METRICS_NAMESPACE, SERVICE, BusinessMetric
from infra.queues import WiredQueue
from infra.stages import StageSettings
from infra.streams import WiredConsumer

PERIOD = Duration.minutes(5)
WIDTH = 12  # two graphs a row (the dashboard grid is 24 wide)


def _lambda_metric(metric_name: str, function_name: str, statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name=metric_name,
        dimensions_map={"FunctionName": function_name},
        statistic=statistic,
        period=PERIOD,
        label=function_name,
    )


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=WIDTH, height=6)


class ServiceDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        stage: StageSettings,
        *,
        api_name: str,
        api_stage: str,
        function_names: Mapping[str, str],
        stream_consumers: Iterable[WiredConsumer],
        queue_consumers: Iterable[WiredQueue],
        tables: Mapping[str, dynamodb.Table],
    ) -> None:
        super().__init__(scope, construct_id)
        consumers = list(stream_consumers)
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=stage.resource_name("service")
        )
        self.dashboard.add_widgets(*self._api(api_name, api_stage))
        self.dashboard.add_widgets(*self._streams(consumers, function_names))
        self.dashboard.add_widgets(*self._queues(list(queue_consumers)))
        self.dashboard.add_widgets(*self._throttles(function_names, tables))
        self.dashboard.add_widgets(self._business())

    @staticmethod
    def _api(api_name: str, api_stage: str) -> list[cloudwatch.IWidget]:
        def metric(name: str, statistic: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map={"ApiName": api_name, "Stage": api_stage},
                statistic=statistic,
                period=PERIOD,
                label=label,
            )

        return [
            _graph(
                "API latency (ms)",
                [metric("Latency", "p50", "p50"), metric("Latency", "p99", "p99")],
            ),
            _graph(
                "API errors (answers per 5 minutes)",
                [metric("4XXError", "Sum", "4xx"), metric("5XXError", "Sum", "5xx")],
            ),
        ]

    @staticmethod
    def _streams(
        consumers: list[WiredConsumer], function_names: Mapping[str, str]
    ) -> list[cloudwatch.IWidget]:
        ages: list[cloudwatch.IMetric] = [
            _lambda_metric("IteratorAge", function_names[wired.function], "Maximum")
            for wired in consumers
        ]
        depths: list[cloudwatch.IMetric] = [
            wired.on_failure_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum", label=wired.function
            )
            for wired in consumers
        ]
        return [
            _graph("Stream iterator age (ms, maximum)", ages),
            _graph("On-failure queue depth (stream batches given up on)", depths),
        ]

    @staticmethod
    def _queues(consumers: list[WiredQueue]) -> list[cloudwatch.IWidget]:
        backlog: list[cloudwatch.IMetric] = [
            metric
            for wired in consumers
            if wired.dead_letter_queue is not None
            for metric in (
                wired.queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum", label=f"{wired.function} waiting"
                ),
                wired.queue.metric_approximate_age_of_oldest_message(
                    period=PERIOD, statistic="Maximum", label=f"{wired.function} oldest (s)"
                ),
            )
        ]
        dead_letters: list[cloudwatch.IMetric] = [
            wired.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum", label=wired.function
            )
            for wired in consumers
            if wired.dead_letter_queue is not None
        ]
        return [
            _graph("Queue backlog (messages waiting, oldest message age)", backlog),
            _graph("Dead-letter queue depth (deliveries given up on)", dead_letters),
        ]

    @staticmethod
    def _throttles(
        function_names: Mapping[str, str], tables: Mapping[str, dynamodb.Table]
    ) -> list[cloudwatch.IWidget]:
        functions: list[cloudwatch.IMetric] = [
            _lambda_metric("Throttles", name, "Sum") for name in function_names.values()
        ]
        table_throttles: list[cloudwatch.IMetric] = [
            table.metric(metric_name, statistic="Sum", period=PERIOD, label=f"{name} {kind}")
            for name, table in tables.items()
            for metric_name, kind in (
                ("ReadThrottleEvents", "reads"),
                ("WriteThrottleEvents", "writes"),
            )
        ]
        return [
            _graph("Function throttles", functions),
            _graph("Table throttled requests", table_throttles),
        ]

    @staticmethod
    def _business() -> cloudwatch.IWidget:
        counters: list[cloudwatch.IMetric] = [
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=metric.value,
                dimensions_map={"service": SERVICE},
                statistic="Sum",
                period=PERIOD,
                label=metric.value,
            )
            for metric in BusinessMetric
        ]
        return cloudwatch.GraphWidget(
            title="Business counters (per 5 minutes)", left=counters, width=24, height=6
        )
