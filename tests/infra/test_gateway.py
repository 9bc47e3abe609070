"""Per-tenant throttling in the deployed API: the Lambda authoriser on every non-public
method (with the stage's cache TTL), API keys taken from the authoriser, the usage plans and
the platform key, and the IAM that lets only the API function move tenants' keys, only in
this stage's usage plans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.api.access import access_for
from chalicelib.domain.gateway import STAGE_TAG, gateway_key_name
from chalicelib.domain.plans import PLAN_LIMITS
from chalicelib.settings import MAX_AUTH_CACHE_SECONDS
from infra.stages import STAGES
from tests.infra.template_queries import (
    Statement,
    Template,
    get_att_target,
    policies_of_role,
    policy_statements,
    properties,
    resources_of_type,
)

STAGE_NAMES = sorted(STAGES)
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _body(template: Template) -> dict[str, Any]:
    body: dict[str, Any] = properties(template, "RestAPI")["DefinitionBody"]
    return body


def _operations(template: Template) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in _body(template)["paths"].items()
        for method, operation in methods.items()
        if method in HTTP_METHODS
    ]


def _text(value: Any) -> str:
    """An ARN as text, references written as {Logical} (Fn::Join of strings and Refs)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_text(part) for part in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return "{" + str(value["Ref"]) + "}"
    raise AssertionError(f"unexpected ARN form {value}")


def _role_of(template: Template, function: str) -> str:
    return str(get_att_target(properties(template, function)["Role"]))


def _gateway_statements(template: Template, role: str) -> list[Statement]:
    return [
        statement
        for statement in policies_of_role(template, role)
        if any(action.startswith("apigateway:") for action in statement.actions)
    ]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_api_keys_come_from_the_authoriser(
    stage_templates: dict[str, Template], stage: str
) -> None:
    assert _body(stage_templates[stage])["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_non_public_method_runs_the_authoriser_and_requires_a_key(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    operations = _operations(template)
    assert len(operations) > 40
    public = 0
    for method, path, operation in operations:
        rule = access_for(method, path)
        if rule is not None and rule.public:
            public += 1
            assert "security" not in operation, (method, path)
        else:
            assert operation["security"] == [{"api_key": []}, {"gateway_authorizer": []}], (
                method,
                path,
            )
    assert public == 3  # the OpenAPI document and the docs page and its assets


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_authoriser_is_the_apps_function_cached_for_the_stages_ttl(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    definitions = _body(template)["securityDefinitions"]
    authorizer = definitions["gateway_authorizer"]
    assert authorizer["name"] == "Authorization" and authorizer["in"] == "header"
    settings = authorizer["x-amazon-apigateway-authorizer"]
    assert settings["type"] == "token"
    # One cache in front of the key check: API Gateway's (≤ 5 s); the authoriser function
    # caches nothing in-process, so the worst case is the TTL, not the sum of two
    ttl = STAGES[stage].auth_cache_seconds
    assert settings["authorizerResultTtlInSeconds"] == ttl <= MAX_AUTH_CACHE_SECONDS == 5
    authoriser_environment = properties(template, "GatewayAuthorizer")["Environment"]["Variables"]
    assert int(authoriser_environment["AUTH_CACHE_SECONDS"]) == 0
    environment = properties(template, "APIHandler")["Environment"]["Variables"]
    assert int(environment["AUTH_CACHE_SECONDS"]) == ttl
    assert "${GatewayAuthorizer.Arn}" in settings["authorizerUri"]["Fn::Sub"]
    # The function runs app.py's authoriser, and only API Gateway's RestAPI may invoke it
    function = properties(template, "GatewayAuthorizer")
    module, _, name = function["Handler"].partition(".")
    assert module == "app"
    import app

    assert callable(getattr(app, name))
    (permission,) = [
        p["Properties"]
        for p in resources_of_type(template, "AWS::Lambda::Permission").values()
        if get_att_target(p["Properties"]["FunctionName"]) == "GatewayAuthorizer"
    ]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["SourceArn"]["Fn::Sub"][1] == {"RestAPIId": {"Ref": "RestAPI"}}


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_authorisers_role_reads_and_touches_only_api_key_items(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    statements = list(policies_of_role(template, _role_of(template, "GatewayAuthorizer")))
    actions = {action for statement in statements for action in statement.actions}
    data_actions = {a for a in actions if a.startswith("dynamodb:")}
    assert data_actions == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert not any(a.startswith("apigateway:") for a in actions)
    for statement in statements:
        if set(statement.actions) & data_actions:
            (table,) = statement.resources
            assert get_att_target(table) == _control_table(template)
            condition = statement.body["Condition"]["ForAllValues:StringLike"]
            assert condition["dynamodb:LeadingKeys"] == ["APIKEY#*"]


def _control_table(template: Template) -> str:
    environment = properties(template, "APIHandler")["Environment"]["Variables"]
    return str(get_att_target(environment["CONTROL_TABLE"]))


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_platform_key_has_its_own_usage_plan(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    settings = STAGES[stage]
    (key,) = resources_of_type(template, "AWS::ApiGateway::ApiKey").values()
    name = gateway_key_name(stage, None)
    assert key["Properties"]["Value"] == key["Properties"]["Name"] == name
    assert {"Key": STAGE_TAG, "Value": stage} in key["Properties"]["Tags"]
    (membership,) = resources_of_type(template, "AWS::ApiGateway::UsagePlanKey").values()
    plan = properties(template, str(get_att_target(membership["Properties"]["UsagePlanId"])))
    assert plan["UsagePlanName"] == settings.resource_name("plan-platform")
    assert plan["Throttle"] == {
        "RateLimit": settings.platform_throttle.rate_limit,
        "BurstLimit": settings.platform_throttle.burst_limit,
    }


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_api_function_names_each_plans_usage_plan(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    environment = properties(template, "APIHandler")["Environment"]["Variables"]
    named = json.loads(environment["GATEWAY_USAGE_PLANS"])
    plans = {
        p["Properties"]["UsagePlanName"]
        for p in resources_of_type(template, "AWS::ApiGateway::UsagePlan").values()
    }
    assert set(named) == {plan.value for plan in PLAN_LIMITS}
    assert set(named.values()) <= plans


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_only_the_api_function_manages_gateway_keys_and_only_this_stages(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    api_role = _role_of(template, "APIHandler")
    # No other identity policy in the stack mentions API Gateway
    for statement in policy_statements(template):
        if any(a.startswith("apigateway:") for a in statement.actions):
            attached = template["Resources"][statement.owner]["Properties"].get("Roles", [])
            assert [get_att_target(r) for r in attached] == [api_role], statement
    tenant_plans = {
        logical
        for logical, plan in resources_of_type(template, "AWS::ApiGateway::UsagePlan").items()
        if plan["Properties"]["UsagePlanName"] != STAGES[stage].resource_name("plan-platform")
    }
    granted: dict[tuple[str, str], Any] = {}
    for statement in _gateway_statements(template, api_role):
        assert statement.body["Effect"] == "Allow"
        for action in statement.actions:
            assert action in {"apigateway:GET", "apigateway:POST", "apigateway:DELETE"}
            for resource in statement.resources:
                arn = _text(resource)
                assert arn.startswith("arn:{AWS::Partition}:apigateway:{AWS::Region}::/")
                path = arn.split("{AWS::Region}::", 1)[1]
                granted[(action, path)] = statement.body.get("Condition")
    tag = STAGE_TAG
    expected: dict[tuple[str, str], Any] = {
        ("apigateway:GET", "/usageplans"): None,
        ("apigateway:GET", "/apikeys"): None,
        ("apigateway:POST", "/apikeys"): {"StringEquals": {f"aws:RequestTag/{tag}": stage}},
        ("apigateway:DELETE", "/apikeys/*"): {"StringEquals": {f"aws:ResourceTag/{tag}": stage}},
    }
    for plan in tenant_plans:
        expected[("apigateway:POST", f"/usageplans/{{{plan}}}/keys")] = None
        expected[("apigateway:GET", f"/usageplans/{{{plan}}}/keys/*")] = None
        expected[("apigateway:DELETE", f"/usageplans/{{{plan}}}/keys/*")] = None
    assert granted == expected
