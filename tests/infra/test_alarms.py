"""Alarms: every function's errors and throttles, every table's throttled requests, the
API's 5xx rate, all sent to the stage's alarm topic (stream alarms: test_streams)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.stages import STAGES
from tests.infra.template_queries import Template, get_att_target, properties, resources_of_type

STAGE_NAMES = sorted(STAGES)


def _alarms(template: Template) -> list[dict[str, Any]]:
    alarms = [
        a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    ]
    assert alarms, "no alarms found"
    return alarms


def _metric_dimensions(alarm: dict[str, Any]) -> list[tuple[str, Any]]:
    """(metric name, dimensions) of a plain alarm or of each metric of a math alarm."""
    if "MetricName" in alarm:
        return [(alarm["MetricName"], alarm.get("Dimensions", []))]
    return [
        (query["MetricStat"]["Metric"]["MetricName"], query["MetricStat"]["Metric"]["Dimensions"])
        for query in alarm["Metrics"]
        if "MetricStat" in query
    ]


def _watched(template: Template, metric: str, dimension: str) -> list[Any]:
    return [
        d["Value"]
        for alarm in _alarms(template)
        for name, dimensions in _metric_dimensions(alarm)
        if name == metric
        for d in dimensions
        if d["Name"] == dimension
    ]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_function_is_alarmed_on_errors_and_throttles(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    functions = resources_of_type(template, "AWS::Serverless::Function")
    names = {f["Properties"]["FunctionName"] for f in functions.values()}
    assert names
    assert names <= set(_watched(template, "Errors", "FunctionName"))
    assert names <= set(_watched(template, "Throttles", "FunctionName"))


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_table_is_alarmed_on_throttled_reads_and_writes(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    tables = set(resources_of_type(template, "AWS::DynamoDB::Table"))
    for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
        watched = {get_att_target(v) for v in _watched(template, metric, "TableName")}
        assert tables <= watched, metric


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_api_5xx_rate_is_alarmed(stage_templates: dict[str, Template], stage: str) -> None:
    template = stage_templates[stage]
    api_name = properties(template, "RestAPI")["Name"]
    (alarm,) = [a for a in _alarms(template) if a.get("MetricName") == "5XXError"]
    assert {"Name": "ApiName", "Value": api_name} in alarm["Dimensions"]
    assert alarm["Statistic"] == "Average"
    assert 0 < alarm["Threshold"] < 1


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_alarm_notifies_the_stage_topic(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    topics = resources_of_type(template, "AWS::SNS::Topic")
    for alarm in _alarms(template):
        targets = {get_att_target(action) for action in alarm["AlarmActions"]}
        assert targets and targets <= set(topics), alarm["AlarmName"]
    for topic in topics.values():
        assert "KmsMasterKeyId" in topic["Properties"]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_cloudwatch_may_use_the_key_of_the_alarm_topic(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    (topic,) = resources_of_type(template, "AWS::SNS::Topic").values()
    key = properties(template, str(get_att_target(topic["Properties"]["KmsMasterKeyId"])))
    allowed = {
        action
        for statement in key["KeyPolicy"]["Statement"]
        if statement["Principal"].get("Service") == "cloudwatch.amazonaws.com"
        for action in statement["Action"]
    }
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= allowed
