"""Stream consumers: every mapping reports partial failures, bisects, retries a bounded
number of times, drops records past a maximum age and sends what it gives up on to an SQS
queue, all from chalicelib/streams_config.py; each is alarmed and has only its own access.

The service has no stream consumer yet, so a small fixture app (tests/infra/stream_app)
with one is packaged too; the checks on the service's templates bite as soon as it has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from chalicelib.dal.schema import DATA_TABLE
from chalicelib.streams_config import (
    MAX_RECORD_AGE_SECONDS,
    MAX_RETRY_ATTEMPTS,
    MIN_RECORD_AGE_SECONDS,
    ON_FAILURE_QUEUE,
    STREAM_CONSUMERS,
    StreamConsumer,
    StreamConsumerSettings,
)
from infra.access import (
    API_HANDLER,
    GATEWAY_AUTHORIZER,
    TENANT_DATA_KEYS,
    FunctionAccess,
    TableAccess,
)
from infra.service_stack import CustomerOpsStack
from infra.stages import STAGES
from infra.streams import StreamWiringError
from tests.infra.template_queries import (
    StreamMapping,
    Template,
    get_att_target,
    policies_of_role,
    properties,
    resources_of_type,
    stream_mappings,
)

FIXTURE_APP = Path(__file__).parent / "stream_app"
FIXTURE_SETTINGS = StreamConsumerSettings(
    batch_size=50, maximum_retry_attempts=3, maximum_record_age_seconds=900
)
FIXTURE_CONSUMERS = {"keep_segments": StreamConsumer("keep_segments", "Data", FIXTURE_SETTINGS)}
FIXTURE_ACCESS = {
    "APIHandler": API_HANDLER,
    "GatewayAuthorizer": GATEWAY_AUTHORIZER,
    "HourlyJob": FunctionAccess("HourlyJob", tables=()),
    "KeepSegments": FunctionAccess(
        "KeepSegments",
        tables=(
            TableAccess(
                DATA_TABLE, actions=("dynamodb:PutItem",), leading_keys=(TENANT_DATA_KEYS,)
            ),
        ),
    ),
}


def _fixture_stack(
    workdir: Path,
    consumers: Mapping[str, StreamConsumer] = FIXTURE_CONSUMERS,
    access: Mapping[str, FunctionAccess] = FIXTURE_ACCESS,
) -> tuple[cdk.App, CustomerOpsStack]:
    app = cdk.App(outdir=str(workdir / "assembly"))
    stack = CustomerOpsStack(
        app,
        STAGES["dev"],
        packaging_dir=workdir / "packaging",
        source_dir=FIXTURE_APP,
        function_access=access,
        stream_consumers=consumers,
    )
    return app, stack


@pytest.fixture(scope="module")
def fixture_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    app, stack = _fixture_stack(tmp_path_factory.mktemp("stream-fixture"))
    template: Template = app.synth().get_stack_by_name(stack.stack_name).template
    return template


def assert_hardened(template: Template, mapping: StreamMapping) -> None:
    props = mapping.properties
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], mapping.where
    assert props["BisectBatchOnFunctionError"] is True, mapping.where
    assert 0 <= props["MaximumRetryAttempts"] <= MAX_RETRY_ATTEMPTS, mapping.where
    assert MIN_RECORD_AGE_SECONDS <= props["MaximumRecordAgeInSeconds"] <= MAX_RECORD_AGE_SECONDS, (
        mapping.where
    )
    queue = get_att_target(mapping.on_failure_destination)
    assert queue in resources_of_type(template, "AWS::SQS::Queue"), mapping.where


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stream_mapping_of_the_service_is_hardened(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    mappings = stream_mappings(template)
    assert len(mappings) == len(STREAM_CONSUMERS)
    for mapping in mappings:
        assert_hardened(template, mapping)


def test_a_consumer_mapping_takes_its_settings_and_its_tables_stream(
    fixture_template: Template,
) -> None:
    # Given the fixture app's one stream handler
    (mapping,) = stream_mappings(fixture_template)
    # Then its mapping is hardened, with the values of its StreamConsumer
    assert_hardened(fixture_template, mapping)
    props = mapping.properties
    assert props["BatchSize"] == FIXTURE_SETTINGS.batch_size
    assert props["MaximumRetryAttempts"] == FIXTURE_SETTINGS.maximum_retry_attempts
    assert props["MaximumRecordAgeInSeconds"] == FIXTURE_SETTINGS.maximum_record_age_seconds
    assert props["StartingPosition"] == FIXTURE_SETTINGS.starting_position.value
    # And it reads the Data table's stream, not the placeholder the app passed
    table, attribute = props["Stream"]["Fn::GetAtt"]
    assert attribute == "StreamArn"
    assert properties(fixture_template, table)["TableName"] == "stream-fixture-dev-data"
    # And its on-failure queue keeps messages as configured, encrypted, TLS only
    queue = properties(fixture_template, str(get_att_target(mapping.on_failure_destination)))
    assert queue["MessageRetentionPeriod"] == ON_FAILURE_QUEUE.retention_seconds
    assert "KmsMasterKeyId" in queue


def _role_of(template: Template, function: str) -> str:
    role = get_att_target(properties(template, function)["Role"])
    return str(role)


def test_a_consumer_reads_only_its_stream_and_sends_only_to_its_queue(
    fixture_template: Template,
) -> None:
    (mapping,) = stream_mappings(fixture_template)
    statements = list(
        policies_of_role(fixture_template, _role_of(fixture_template, "KeepSegments"))
    )
    stream_reads = [s for s in statements if "dynamodb:GetRecords" in s.actions]
    assert [s.resources for s in stream_reads] == [[mapping.source]]
    sends = [s for s in statements if "sqs:SendMessage" in s.actions]
    assert [s.resources for s in sends] == [[mapping.on_failure_destination]]
    # The API handler's role gains nothing from the consumer
    api_statements = policies_of_role(fixture_template, _role_of(fixture_template, "APIHandler"))
    assert not any(
        action.startswith(("sqs:", "dynamodb:GetRecords"))
        for s in api_statements
        for action in s.actions
    )


def _alarms(template: Template) -> list[dict[str, Any]]:
    return [a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()]


def test_a_consumer_is_alarmed_on_iterator_age_and_queue_depth(fixture_template: Template) -> None:
    (mapping,) = stream_mappings(fixture_template)
    function_name = properties(fixture_template, "KeepSegments")["FunctionName"]
    queue = get_att_target(mapping.on_failure_destination)
    alarms = _alarms(fixture_template)
    iterator_age = [
        a
        for a in alarms
        if a.get("MetricName") == "IteratorAge"
        and {"Name": "FunctionName", "Value": function_name} in a["Dimensions"]
    ]
    assert len(iterator_age) == 1
    queue_depth = [
        a
        for a in alarms
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and any(get_att_target(d["Value"]) == queue for d in a["Dimensions"])
    ]
    assert len(queue_depth) == 1
    assert queue_depth[0]["Threshold"] == ON_FAILURE_QUEUE.alarm_threshold_messages


def test_a_stream_handler_without_settings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StreamWiringError, match=r"streams_config\.py"):
        _fixture_stack(tmp_path, consumers={})


def test_settings_for_a_missing_handler_are_refused(tmp_path: Path) -> None:
    consumers = {**FIXTURE_CONSUMERS, "gone": StreamConsumer("gone", "Data")}
    with pytest.raises(StreamWiringError, match="gone"):
        _fixture_stack(tmp_path, consumers=consumers)


def test_a_handler_reading_another_tables_placeholder_is_refused(tmp_path: Path) -> None:
    consumers = {"keep_segments": StreamConsumer("keep_segments", "Control")}
    with pytest.raises(StreamWiringError, match="stream_arn_placeholder"):
        _fixture_stack(tmp_path, consumers=consumers)


def test_a_function_without_declared_access_is_refused(tmp_path: Path) -> None:
    access = {k: v for k, v in FIXTURE_ACCESS.items() if k != "HourlyJob"}
    with pytest.raises(ValueError, match="HourlyJob"):
        _fixture_stack(tmp_path, access=access)


@pytest.mark.parametrize(
    "values",
    [
        {"maximum_retry_attempts": -1},
        {"maximum_record_age_seconds": -1},
        {"maximum_record_age_seconds": MAX_RECORD_AGE_SECONDS + 1},
        {"batch_size": 0},
        {"parallelization_factor": 11},
    ],
)
def test_unbounded_or_invalid_settings_are_refused(values: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="out of range"):
        StreamConsumerSettings(**values)  # type: ignore[arg-type]
