"""Issue 14: each stage has a CloudWatch dashboard: API latency and errors, every stream
function's iterator age, every on-failure queue's depth, throttles, business counters."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.observability import METRICS_NAMESPACE, BusinessMetric
from infra.stages import STAGES
from tests.infra.template_queries import (
    Template,
    properties,
    resources_of_type,
    stream_mappings,
)

STAGE_NAMES = sorted(STAGES)


def _body(template: Template) -> dict[str, Any]:
    """The dashboard's JSON body, each CloudFormation reference in it replaced by its
    logical id (`{ref:LogicalId}`)."""
    dashboards = resources_of_type(template, "AWS::CloudWatch::Dashboard")
    assert len(dashboards) == 1, dashboards
    body = properties(template, next(iter(dashboards)))["DashboardBody"]
    if isinstance(body, str):
        return dict(json.loads(body))
    parts = []
    for part in body["Fn::Join"][1]:
        if isinstance(part, str):
            parts.append(part)
        else:
            reference = part.get("Ref") or part.get("Fn::GetAtt", ["?"])[0]
            parts.append(f"{{ref:{reference}}}")
    return dict(json.loads("".join(parts)))


def _metrics(template: Template) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric name, dimensions) of every graphed metric; CloudWatch's
    shorthand `"."` repeats the previous row's value."""
    found = []
    for widget in _body(template)["widgets"]:
        previous: list[Any] = []
        for row in widget["properties"].get("metrics", []):
            values = [v for v in row if not isinstance(v, dict)]
            values = [previous[i] if v == "." else v for i, v in enumerate(values)]
            previous = values
            namespace, name, *pairs = values
            found.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return found


def _stream_functions(template: Template) -> set[str]:
    """The deployed names of the functions a stream invokes."""
    return {
        properties(template, mapping.function)["FunctionName"]
        for mapping in stream_mappings(template)
    }


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_dashboard_shows_api_streams_queues_throttles_and_business_counters(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given the stage's template
    template = stage_templates[stage]

    # When its dashboard is read
    metrics = _metrics(template)

    # Then it graphs the API's latency and errors for the stage's API
    api = {name for ns, name, dims in metrics if ns == "AWS/ApiGateway"}
    assert {"Latency", "4XXError", "5XXError"} <= api
    assert all(
        dims == {"ApiName": f"customer-ops-{stage}", "Stage": "api"}
        for ns, _, dims in metrics
        if ns == "AWS/ApiGateway"
    )
    # and the iterator age of every stream function
    aged = {dims["FunctionName"] for ns, name, dims in metrics if name == "IteratorAge"}
    assert aged == _stream_functions(template) and aged
    # and the depth of every on-failure queue
    queues = {
        f"{{ref:{logical_id}}}" for logical_id in resources_of_type(template, "AWS::SQS::Queue")
    }
    depths = {
        dims["QueueName"]
        for ns, name, dims in metrics
        if name == "ApproximateNumberOfMessagesVisible"
    }
    assert depths == queues and queues
    # and throttles of every function and table
    throttled = {dims["FunctionName"] for ns, name, dims in metrics if name == "Throttles"}
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert throttled == {properties(template, f)["FunctionName"] for f in functions}
    assert {"ReadThrottleEvents", "WriteThrottleEvents"} <= {name for _, name, _ in metrics}
    # and the business counters the functions emit
    business = {name for ns, name, dims in metrics if ns == METRICS_NAMESPACE}
    assert business == {metric.value for metric in BusinessMetric}
