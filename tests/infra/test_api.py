"""The API: gateway responses in problem+json, access logs, throttling, and a function
wired to its tables, secret, key and log group."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.api.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from chalicelib.dal.schema import ALL_TABLES
from chalicelib.domain.plans import PLAN_LIMITS
from chalicelib.settings import MAX_AUTH_CACHE_SECONDS, MAX_MERGE_REQUEST_BUDGET_SECONDS
from infra.stages import STAGES
from tests.infra.template_queries import Template, get_att_target, properties, resources_of_type

STAGE_NAMES = sorted(STAGES)

# API Gateway's own answers that must look like the service's: unknown route or method,
# throttling, and everything else it may say (DEFAULT_4XX/5XX).
REQUIRED_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": "404",
    "THROTTLED": "429",
    "QUOTA_EXCEEDED": "429",
    "REQUEST_TOO_LARGE": "413",
    # The authoriser's answers: no or a bad key, a suspended tenant, no gateway key yet.
    "UNAUTHORIZED": "401",
    "ACCESS_DENIED": "403",
    "INVALID_API_KEY": "403",
    "DEFAULT_4XX": None,
    "DEFAULT_5XX": None,
}


def _rest_api(template: Template) -> dict[str, Any]:
    apis = resources_of_type(template, "AWS::Serverless::Api")
    assert list(apis) == ["RestAPI"]
    return apis["RestAPI"]["Properties"]


def _only_function(template: Template) -> dict[str, Any]:
    functions = resources_of_type(template, "AWS::Serverless::Function")
    return functions["APIHandler"]["Properties"]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_gateway_errors_are_problem_json(stage_templates: dict[str, Template], stage: str) -> None:
    # Given the gateway responses in the API's OpenAPI body
    body = _rest_api(stage_templates[stage])["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    # Then each required one answers problem+json with the service's problem fields
    for response_type, status in REQUIRED_RESPONSES.items():
        response = responses[response_type]
        assert response.get("statusCode") == status, response_type
        headers = response["responseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == f"'{PROBLEM_CONTENT_TYPE}'"
        problem = json.loads(response["responseTemplates"]["application/json"])
        assert problem["type"].startswith(PROBLEM_TYPE_BASE)
        assert problem["title"] and problem["detail"]
        assert problem["request_id"] == "$context.requestId"
        if status is not None:
            assert problem["status"] == int(status)
    assert responses["THROTTLED"]["responseParameters"]["gatewayresponse.header.Retry-After"]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_access_logs_go_to_an_encrypted_log_group_with_retention(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    setting = _rest_api(template)["AccessLogSetting"]
    log_group = properties(template, str(get_att_target(setting["DestinationArn"])))
    assert log_group["RetentionInDays"] > 0
    assert get_att_target(log_group["KmsKeyId"]) in resources_of_type(template, "AWS::KMS::Key")
    fields = json.loads(setting["Format"])
    assert fields["request_id"] == "$context.requestId"
    assert fields["status"] == "$context.status"
    # Nothing that may carry personal data: no query string, headers or bodies.
    assert not any("$input" in v or "$context.requestOverride" in v for v in fields.values())


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_stage_is_throttled_and_named_for_its_stage(
    stage_templates: dict[str, Template], stage: str
) -> None:
    api = _rest_api(stage_templates[stage])
    assert api["Name"] == STAGES[stage].stack_name
    (settings,) = api["MethodSettings"]
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] == STAGES[stage].throttle.rate_limit
    assert settings["ThrottlingBurstLimit"] == STAGES[stage].throttle.burst_limit
    assert api["TracingEnabled"] is True


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_function_gets_its_tables_secret_and_key(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    function = _only_function(template)
    environment = function["Environment"]["Variables"]
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    for spec in ALL_TABLES:
        assert get_att_target(environment[spec.environment_variable]) in tables
    # The cursor secret is a dynamic reference resolved at deploy time, never a literal.
    reference = environment["CURSOR_SECRET"]["Fn::Join"][1]
    assert reference[0] == "{{resolve:secretsmanager:"
    assert get_att_target(reference[1]) in resources_of_type(
        template, "AWS::SecretsManager::Secret"
    )
    assert int(environment["AUTH_CACHE_SECONDS"]) <= MAX_AUTH_CACHE_SECONDS
    assert environment["STAGE"] == stage
    # Pydantic looks for no plugins (issue 14: scanning every package's entry points is slow).
    assert environment["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
    assert get_att_target(function["KmsKeyArn"]) in resources_of_type(template, "AWS::KMS::Key")
    assert function["Tracing"] == "Active"


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_each_function_logs_to_its_own_log_group_made_first(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        function_name = function["Properties"]["FunctionName"]
        (group,) = [
            logical
            for logical, group in log_groups.items()
            if group["Properties"]["LogGroupName"] == f"/aws/lambda/{function_name}"
        ]
        assert group in function["DependsOn"], name
        assert log_groups[group]["Properties"]["RetentionInDays"] > 0


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_stage_has_an_event_bus(stage_templates: dict[str, Template], stage: str) -> None:
    (bus,) = resources_of_type(stage_templates[stage], "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == STAGES[stage].resource_name("events")


def test_the_account_stack_sets_api_gateways_logging_role(
    synthesised_account: Template,
) -> None:
    (account,) = resources_of_type(synthesised_account, "AWS::ApiGateway::Account").values()
    role = get_att_target(account["Properties"]["CloudWatchRoleArn"])
    assert role in resources_of_type(synthesised_account, "AWS::IAM::Role")


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_api_function_answers_within_api_gateways_limit(
    stage_templates: dict[str, Template], stage: str
) -> None:
    functions = resources_of_type(stage_templates[stage], "AWS::Serverless::Function")
    for name, function in functions.items():
        timeout = function["Properties"]["Timeout"]
        if name in ("APIHandler", "GatewayAuthorizer"):
            assert timeout < 29  # API Gateway's integration (and authoriser) timeout
        else:
            assert timeout == STAGES[stage].job_timeout_seconds, name
    # A merge request may move items for MERGE_REQUEST_BUDGET_SECONDS, then finishes the step
    # under way and queues the rest: a few seconds more.
    assert functions["APIHandler"]["Properties"]["Timeout"] >= MAX_MERGE_REQUEST_BUDGET_SECONDS + 3


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_each_plan_has_a_usage_plan_on_the_api_stage(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    plans = resources_of_type(template, "AWS::ApiGateway::UsagePlan")
    by_name = {p["Properties"]["UsagePlanName"]: p for p in plans.values()}
    assert len(by_name) == len(PLAN_LIMITS) + 1  # and the platform-admin key's
    for plan, limits in PLAN_LIMITS.items():
        usage_plan = by_name[STAGES[stage].resource_name(f"plan-{plan.value}")]
        assert usage_plan["Properties"]["Throttle"] == {
            "RateLimit": limits.requests_per_second,
            "BurstLimit": limits.burst,
        }
        (api_stage,) = usage_plan["Properties"]["ApiStages"]
        assert get_att_target(api_stage["ApiId"]) == "RestAPI"
        assert usage_plan["DependsOn"] == [f"RestAPI{api_stage['Stage']}Stage"]
