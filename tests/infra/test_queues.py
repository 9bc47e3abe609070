"""The webhook queue: its consumer's mapping reports partial failures, the queue redrives
to a dead-letter queue after the consumer's receives and is alarmed on it, the data stream
consumer may only send to it and the delivery function only consume it; all from
chalicelib/queues_config.py."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.queues_config import (
    AUDIT_HEARTBEAT_QUEUE,
    CAMPAIGN_SEND_QUEUE,
    MERGE_QUEUE,
    WEBHOOK_DEAD_LETTERS,
    WEBHOOK_QUEUE,
)
from infra.queues import VISIBILITY_PER_FUNCTION_TIMEOUT
from infra.stages import STAGES
from tests.infra.template_queries import (
    Template,
    get_att_target,
    policies_of_role,
    properties,
    resources_of_type,
)

CONSUMER = "DeliverWebhooks"
DEAD_LETTER_CONSUMER = "RecordUndeliveredWebhooks"
SENDER = "KeepCustomersCurrent"
MERGE_CONSUMER = "ContinueMerges"
SQS_CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}


def _sqs_event(template: Template, function: str = CONSUMER) -> dict[str, Any]:
    events = properties(template, function)["Events"]
    (event,) = [e for e in events.values() if e["Type"] == "SQS"]
    return dict(event["Properties"])


def _queue_id(template: Template) -> str:
    return str(get_att_target(_sqs_event(template)["Queue"]))


def _role_of(template: Template, function: str) -> str:
    return str(get_att_target(properties(template, function)["Role"]))


def _sqs_grants(template: Template, function: str) -> dict[str, set[str]]:
    """Queue logical id → the SQS actions the function's role has on it."""
    grants: dict[str, set[str]] = {}
    for statement in policies_of_role(template, _role_of(template, function)):
        actions = {a for a in statement.actions if a.startswith("sqs:")}
        for resource in statement.resources:
            if actions:
                grants.setdefault(str(get_att_target(resource)), set()).update(actions)
    return grants


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_delivery_function_reads_the_queue_reporting_partial_failures(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given the stage's template
    template = stage_templates[stage]
    # Then the delivery function's SQS event reads the stage's webhook queue
    event = _sqs_event(template)
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["BatchSize"] == WEBHOOK_QUEUE.batch_size
    queue = properties(template, _queue_id(template))
    assert queue["QueueName"].endswith(WEBHOOK_QUEUE.queue_name)
    # And the queue is encrypted and hides a received message longer than a batch can run
    assert "KmsMasterKeyId" in queue
    timeout = properties(template, CONSUMER)["Timeout"]
    assert queue["VisibilityTimeout"] >= VISIBILITY_PER_FUNCTION_TIMEOUT * timeout


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_queue_redrives_to_an_alarmed_dead_letter_queue(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    redrive = properties(template, _queue_id(template))["RedrivePolicy"]
    # Then messages go to the dead-letter queue after the consumer's last receive
    assert redrive["maxReceiveCount"] == WEBHOOK_QUEUE.max_receive_count
    dead_letters = str(get_att_target(redrive["deadLetterTargetArn"]))
    assert dead_letters in resources_of_type(template, "AWS::SQS::Queue")
    assert "KmsMasterKeyId" in properties(template, dead_letters)
    # And an alarm watches its depth
    alarms = [
        a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    ]
    depth = [
        a
        for a in alarms
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and any(
            get_att_target(d["Value"]) == dead_letters
            for d in a["Dimensions"]
            if d["Name"] == "QueueName"
        )
    ]
    assert len(depth) == 1
    assert depth[0]["Threshold"] == WEBHOOK_QUEUE.dead_letter_alarm_threshold


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_only_the_stream_consumer_sends_and_only_the_delivery_function_consumes(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    queue = _queue_id(template)
    # Then the data stream consumer may send to the webhook queue and do nothing else with it
    assert _sqs_grants(template, SENDER)[queue] == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    # And the delivery function consumes it and cannot send to it
    consumed = _sqs_grants(template, CONSUMER)[queue]
    assert consumed >= SQS_CONSUME and "sqs:SendMessage" not in consumed
    # And no other function has any access to it (the dead-letter consumer reads only the
    # dead-letter queue)
    others = set(resources_of_type(template, "AWS::Serverless::Function")) - {SENDER, CONSUMER}
    assert all(queue not in _sqs_grants(template, function) for function in others)
    # And both know the queue's URL
    for function in (SENDER, CONSUMER):
        variables = properties(template, function)["Environment"]["Variables"]
        assert get_att_target(variables[WEBHOOK_QUEUE.queue_url_variable]) == queue


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_dead_letter_queue_has_its_own_consumer_and_alarm(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    dead_letters = str(
        get_att_target(
            properties(template, _queue_id(template))["RedrivePolicy"]["deadLetterTargetArn"]
        )
    )
    # Then the dead-letter consumer reads the webhook queue's dead-letter queue
    event = _sqs_event(template, DEAD_LETTER_CONSUMER)
    assert get_att_target(event["Queue"]) == dead_letters
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["BatchSize"] == WEBHOOK_DEAD_LETTERS.batch_size
    # And may only consume it, and nothing else of SQS
    grants = _sqs_grants(template, DEAD_LETTER_CONSUMER)
    assert set(grants) == {dead_letters} and "sqs:SendMessage" not in grants[dead_letters]
    assert grants[dead_letters] >= SQS_CONSUME
    # And any dead-lettered message raises an alarm
    function_name = properties(template, DEAD_LETTER_CONSUMER)["FunctionName"]
    alarms = [
        a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    ]
    assert any(
        a.get("MetricName") == "Invocations"
        and {"Name": "FunctionName", "Value": function_name} in a["Dimensions"]
        and a["Threshold"] == 1
        for a in alarms
    )


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_merge_queue_is_consumed_by_its_function_and_fed_by_the_api_and_itself(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given the stage's template
    template = stage_templates[stage]

    # When the merge continuation function's queue is looked up
    event = _sqs_event(template, MERGE_CONSUMER)
    queue = str(get_att_target(event["Queue"]))

    # Then it reads one message at a time, reporting partial failures
    assert event["BatchSize"] == MERGE_QUEUE.batch_size == 1
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # and the API and the consumer itself (the next continuation) may send to it, no other
    senders = {
        function
        for function in resources_of_type(template, "AWS::Serverless::Function")
        if "sqs:SendMessage" in _sqs_grants(template, function).get(queue, set())
    }
    assert senders == {"APIHandler", MERGE_CONSUMER}
    for function in senders:
        variables = properties(template, function)["Environment"]["Variables"]
        assert get_att_target(variables[MERGE_QUEUE.queue_url_variable]) == queue
    # and its queue redrives to an alarmed dead-letter queue
    redrive = properties(template, queue)["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == MERGE_QUEUE.max_receive_count


CAMPAIGN_WORKER = "SendCampaignPages"
CAMPAIGN_JOB = "RunCampaigns"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_campaign_send_queue_is_fed_by_the_job_and_read_by_the_workers(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given the stage's template
    template = stage_templates[stage]
    # Then the send workers read the campaign-sends queue, reporting partial failures
    event = _sqs_event(template, CAMPAIGN_WORKER)
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["BatchSize"] == CAMPAIGN_SEND_QUEUE.batch_size
    queue = str(get_att_target(event["Queue"]))
    queue_properties = properties(template, queue)
    assert queue_properties["QueueName"].endswith(CAMPAIGN_SEND_QUEUE.queue_name)
    assert "KmsMasterKeyId" in queue_properties
    timeout = properties(template, CAMPAIGN_WORKER)["Timeout"]
    assert queue_properties["VisibilityTimeout"] >= VISIBILITY_PER_FUNCTION_TIMEOUT * timeout
    # And it redrives after the consumer's last receive to a dead-letter queue with an alarm
    redrive = queue_properties["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == CAMPAIGN_SEND_QUEUE.max_receive_count
    dead_letters = str(get_att_target(redrive["deadLetterTargetArn"]))
    alarms = [
        a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    ]
    assert any(
        a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and any(get_att_target(d["Value"]) == dead_letters for d in a["Dimensions"])
        for a in alarms
    )
    # And only the campaign job sends to it; only the workers consume it
    assert _sqs_grants(template, CAMPAIGN_JOB)[queue] == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    consumed = _sqs_grants(template, CAMPAIGN_WORKER)[queue]
    assert consumed >= SQS_CONSUME and "sqs:SendMessage" not in consumed
    others = set(resources_of_type(template, "AWS::Serverless::Function")) - {
        CAMPAIGN_JOB,
        CAMPAIGN_WORKER,
    }
    assert all(queue not in _sqs_grants(template, function) for function in others)
    # And both know the queue's URL
    for function in (CAMPAIGN_JOB, CAMPAIGN_WORKER):
        variables = properties(template, function)["Environment"]["Variables"]
        assert get_att_target(variables[CAMPAIGN_SEND_QUEUE.queue_url_variable]) == queue


HEARTBEAT_CONSUMER = "AppendAuditHeartbeats"
HEARTBEAT_SCHEDULE = "AuditHeartbeats"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_heartbeat_queue_is_fed_by_the_schedule_and_read_by_the_signing_consumer(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given the stage's template
    template = stage_templates[stage]
    # Then the heartbeat consumer reads the audit-heartbeats queue a page at a time,
    # reporting partial failures
    event = _sqs_event(template, HEARTBEAT_CONSUMER)
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["BatchSize"] == AUDIT_HEARTBEAT_QUEUE.batch_size
    queue = str(get_att_target(event["Queue"]))
    queue_properties = properties(template, queue)
    assert queue_properties["QueueName"].endswith(AUDIT_HEARTBEAT_QUEUE.queue_name)
    assert "KmsMasterKeyId" in queue_properties
    timeout = properties(template, HEARTBEAT_CONSUMER)["Timeout"]
    visibility = queue_properties["VisibilityTimeout"]
    assert visibility >= VISIBILITY_PER_FUNCTION_TIMEOUT * timeout
    # And a message is kept long enough to be received its every time before it expires
    assert queue_properties["MessageRetentionPeriod"] == AUDIT_HEARTBEAT_QUEUE.retention_seconds
    assert queue_properties["MessageRetentionPeriod"] > (
        AUDIT_HEARTBEAT_QUEUE.max_receive_count * visibility
    )
    # And it redrives after the consumer's last receive to a dead-letter queue with an alarm
    redrive = queue_properties["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == AUDIT_HEARTBEAT_QUEUE.max_receive_count
    dead_letters = str(get_att_target(redrive["deadLetterTargetArn"]))
    assert "KmsMasterKeyId" in properties(template, dead_letters)
    alarms = [
        a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    ]
    assert any(
        a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and any(get_att_target(d["Value"]) == dead_letters for d in a["Dimensions"])
        and a["Threshold"] == AUDIT_HEARTBEAT_QUEUE.dead_letter_alarm_threshold
        for a in alarms
    )
    # And only the schedule sends to it; only the consumer consumes it
    assert _sqs_grants(template, HEARTBEAT_SCHEDULE) == {
        queue: {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    }
    consumed = _sqs_grants(template, HEARTBEAT_CONSUMER)
    assert set(consumed) == {queue}
    assert consumed[queue] >= SQS_CONSUME and "sqs:SendMessage" not in consumed[queue]
    others = set(resources_of_type(template, "AWS::Serverless::Function")) - {
        HEARTBEAT_SCHEDULE,
        HEARTBEAT_CONSUMER,
    }
    assert all(queue not in _sqs_grants(template, function) for function in others)
    assert all(dead_letters not in _sqs_grants(template, function) for function in others)
    # And both know the queue's URL
    for function in (HEARTBEAT_SCHEDULE, HEARTBEAT_CONSUMER):
        variables = properties(template, function)["Environment"]["Variables"]
        assert get_att_target(variables[AUDIT_HEARTBEAT_QUEUE.queue_url_variable]) == queue
