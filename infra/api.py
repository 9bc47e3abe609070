"""API Gateway settings Chalice does not manage: name, access logs, throttling, tracing,
gateway responses that give API Gateway's own errors the service's problem+json shape, the
Lambda authoriser on every non-public method, and the usage plans that throttle each tenant."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, CfnTag, Fn, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from chalicelib.api.access import access_for
from chalicelib.api.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from chalicelib.domain.gateway import STAGE_TAG, gateway_key_name
from chalicelib.domain.plans import PLAN_LIMITS
from infra.chalice_app import SAM_API, PackagedApp
from infra.stages import StageSettings
from infra.suppressions import REST_API_CHECKS, skip_checkov

REST_API = "RestAPI"
AUTHORIZER_FUNCTION = "GatewayAuthorizer"  # app.py: @app.authorizer(name="gateway_authorizer")
AUTHORIZER = "gateway_authorizer"
API_KEY = "api_key"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


@dataclass(frozen=True)
class GatewayProblem:
    """How API Gateway answers one of its own errors, before or instead of the function."""

    status: int | None  # None: keep the status API Gateway chose (the DEFAULT_* responses)
    slug: str
    title: str
    detail: str
    headers: tuple[tuple[str, str], ...] = ()


# API Gateway answers these itself. Missing routes and unsupported methods arrive as
# MISSING_AUTHENTICATION_TOKEN (a 403, because API Gateway cannot tell an unknown route from
# an unsigned IAM request); this API has no IAM-authorised routes, so the answer is 404.
GATEWAY_PROBLEMS: dict[str, GatewayProblem] = {
    "MISSING_AUTHENTICATION_TOKEN": GatewayProblem(
        404, "not-found", "Not found", "no route matches this method and path"
    ),
    "THROTTLED": GatewayProblem(
        429,
        "too-many-requests",
        "Too many requests",
        "the request rate limit was exceeded; retry after a short wait",
        (("Retry-After", "1"),),
    ),
    "QUOTA_EXCEEDED": GatewayProblem(
        429, "quota-exceeded", "Quota exceeded", "the request quota for this period is used up"
    ),
    "REQUEST_TOO_LARGE": GatewayProblem(
        413, "payload-too-large", "Payload too large", "the request is larger than allowed"
    ),
    "UNSUPPORTED_MEDIA_TYPE": GatewayProblem(
        415, "unsupported-media-type", "Unsupported media type", "send application/json"
    ),
    "ACCESS_DENIED": GatewayProblem(403, "forbidden", "Forbidden", "access denied"),
    # The authoriser accepted the key, but API Gateway has no API key in a usage plan for
    # its tenant (a tenant created before per-tenant keys, or a failed provisioning).
    "INVALID_API_KEY": GatewayProblem(
        403,
        "gateway-key-missing",
        "Forbidden",
        "the tenant has no request quota on this stage yet; the platform admin provisions it "
        "by updating the tenant",
    ),
    "UNAUTHORIZED": GatewayProblem(
        401,
        "not-authenticated",
        "Not authenticated",
        "send an API key as 'Authorization: Bearer <key>'",
        (("WWW-Authenticate", "Bearer"),),
    ),
    "INTEGRATION_TIMEOUT": GatewayProblem(
        504, "gateway-timeout", "Gateway timeout", "the service did not answer in time"
    ),
    "INTEGRATION_FAILURE": GatewayProblem(
        502, "bad-gateway", "Bad gateway", "the service failed to answer"
    ),
    "DEFAULT_4XX": GatewayProblem(
        None, "gateway-rejected", "Request rejected", "API Gateway rejected the request"
    ),
    "DEFAULT_5XX": GatewayProblem(
        None, "gateway-error", "Gateway error", "API Gateway could not complete the request"
    ),
}

# One JSON object per request; no query string, headers or body (they may hold personal data).
ACCESS_LOG_FORMAT = {
    "request_id": "$context.requestId",
    "time": "$context.requestTime",
    "method": "$context.httpMethod",
    "route": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "response_length": "$context.responseLength",
    "latency_ms": "$context.responseLatency",
    "integration_latency_ms": "$context.integrationLatency",
    "integration_status": "$context.integrationStatus",
    "error": "$context.error.responseType",
    "source_ip": "$context.identity.sourceIp",
    "api_key_id": "$context.identity.apiKeyId",
}


def _quoted(value: str) -> str:
    return f"'{value}'"


def problem_template(problem: GatewayProblem) -> str:
    """The response body as an API Gateway mapping template (a JSON document)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.slug,
        "title": problem.title,
    }
    if problem.status is not None:
        body["status"] = problem.status
    body.update(
        {
            "detail": problem.detail,
            "request_id": "$context.requestId",
            "gateway_error": "$context.error.responseType",
        }
    )
    return json.dumps(body)


def gateway_responses() -> dict[str, Any]:
    """The `x-amazon-apigateway-gateway-responses` extension of the API's OpenAPI body."""
    responses: dict[str, Any] = {}
    for response_type, problem in GATEWAY_PROBLEMS.items():
        parameters = {"gatewayresponse.header.Content-Type": _quoted(PROBLEM_CONTENT_TYPE)}
        parameters.update(
            {f"gatewayresponse.header.{name}": _quoted(value) for name, value in problem.headers}
        )
        response: dict[str, Any] = {
            "responseParameters": parameters,
            "responseTemplates": {"application/json": problem_template(problem)},
        }
        if problem.status is not None:
            response["statusCode"] = str(problem.status)
        responses[response_type] = response
    return responses


def authorizer_definition(ttl_seconds: int) -> dict[str, Any]:
    """The TOKEN authoriser (the Authorization header), its result cached per header value."""
    return {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "custom",
        "x-amazon-apigateway-authorizer": {
            "type": "token",
            "authorizerUri": {
                "Fn::Sub": (
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
                    f"/functions/${{{AUTHORIZER_FUNCTION}.Arn}}/invocations"
                )
            },
            "authorizerResultTtlInSeconds": ttl_seconds,
        },
    }


def secured_paths(paths: Mapping[str, Any]) -> dict[str, Any]:
    """Chalice's paths with the authoriser and a required API key on every method that
    chalicelib/api/access.py does not mark public (a method without a rule is secured too)."""
    secured = copy.deepcopy(dict(paths))
    for path, methods in secured.items():
        for method, operation in methods.items():
            if method not in HTTP_METHODS:
                continue
            rule = access_for(method.upper(), path)
            if rule is not None and rule.public:
                continue
            operation["security"] = [{API_KEY: []}, {AUTHORIZER: []}]
    return secured


def attach_authorizer(app: PackagedApp, stage: StageSettings) -> None:
    """Every non-public method runs the Lambda authoriser and requires the API key it names
    (`usageIdentifierKey`): the API's key source is AUTHORIZER, so clients never send one."""
    if AUTHORIZER_FUNCTION not in app.functions:
        raise RuntimeError(f"the Chalice app has no {AUTHORIZER_FUNCTION} function")
    body = app.template["Resources"][REST_API]["Properties"]["DefinitionBody"]
    rest_api = app.construct.get_resource(REST_API)
    rest_api.add_property_override("DefinitionBody.paths", secured_paths(body["paths"]))
    rest_api.add_property_override(
        "DefinitionBody.securityDefinitions",
        {
            AUTHORIZER: authorizer_definition(stage.auth_cache_seconds),
            API_KEY: {"type": "apiKey", "name": "x-api-key", "in": "header"},
        },
    )
    rest_api.add_property_override(
        "DefinitionBody.x-amazon-apigateway-api-key-source", "AUTHORIZER"
    )


def configure_rest_api(
    scope: Construct, app: PackagedApp, key: kms.IKey, stage: StageSettings
) -> logs.LogGroup:
    """Apply the stage's API settings to Chalice's RestAPI; answer the access log group."""
    if REST_API not in app.resources_of_type(SAM_API):
        raise RuntimeError("the Chalice app has no REST API to configure")
    access_logs = logs.LogGroup(
        scope,
        "ApiAccessLogs",
        log_group_name=f"/aws/apigateway/{stage.stack_name}/access",
        retention=stage.log_retention,
        encryption_key=key,
        removal_policy=stage.removal_policy,
    )
    rest_api = app.construct.get_resource(REST_API)
    skip_checkov(rest_api, REST_API_CHECKS)
    rest_api.add_property_override("Name", stage.stack_name)
    rest_api.add_property_override("TracingEnabled", True)
    rest_api.add_property_override(
        "AccessLogSetting",
        {
            "DestinationArn": access_logs.log_group_arn,
            "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
        },
    )
    rest_api.add_property_override(
        "MethodSettings",
        [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "ThrottlingRateLimit": stage.throttle.rate_limit,
                "ThrottlingBurstLimit": stage.throttle.burst_limit,
                "MetricsEnabled": True,
            }
        ],
    )
    rest_api.add_property_override(
        "DefinitionBody.x-amazon-apigateway-gateway-responses", gateway_responses()
    )
    attach_authorizer(app, stage)
    return access_logs


def usage_plan_name(stage: StageSettings, plan: str) -> str:
    return stage.resource_name(f"plan-{plan}")


def _usage_plan(
    scope: Construct,
    construct_id: str,
    name: str,
    description: str,
    api_stage: str,
    rate_limit: float,
    burst_limit: int,
) -> apigateway.CfnUsagePlan:
    usage_plan = apigateway.CfnUsagePlan(
        scope,
        construct_id,
        usage_plan_name=name,
        description=description,
        api_stages=[
            apigateway.CfnUsagePlan.ApiStageProperty(api_id=Fn.ref(REST_API), stage=api_stage)
        ],
        throttle=apigateway.CfnUsagePlan.ThrottleSettingsProperty(
            rate_limit=rate_limit, burst_limit=burst_limit
        ),
    )
    # SAM makes the stage from the API (its logical id + stage name + "Stage"); the plan
    # must wait for it. The CDK's own check runs before SAM's transform and cannot see it.
    usage_plan.add_override("DependsOn", [f"{REST_API}{api_stage}Stage"])
    Validations.of(usage_plan).acknowledge(
        Acknowledgment(
            id="CloudFormation-Validate::E3005",
            reason="the DependsOn target is the stage SAM's transform creates",
        )
    )
    return usage_plan


def declare_usage_plans(
    scope: Construct, api_stage: str, stage: StageSettings
) -> dict[str, apigateway.CfnUsagePlan]:
    """One usage plan per plan of chalicelib/domain/plans.py, with its rate and burst.

    API Gateway applies a usage plan's throttle to each API key in it separately; the
    service gives each tenant its own key (chalicelib/services/gateway_keys.py), so the limit
    is per tenant, not per tier. The platform-admin key gets a plan and a key of its own.
    """
    plans = {
        plan.value: _usage_plan(
            scope,
            f"UsagePlan{plan.value.title()}",
            usage_plan_name(stage, plan.value),
            f"{plan.value} plan: per-key (per-tenant) request rate and burst",
            api_stage,
            limits.requests_per_second,
            limits.burst,
        )
        for plan, limits in PLAN_LIMITS.items()
    }
    platform_plan = _usage_plan(
        scope,
        "UsagePlanPlatform",
        usage_plan_name(stage, "platform"),
        "the platform-admin key's request rate and burst",
        api_stage,
        stage.platform_throttle.rate_limit,
        stage.platform_throttle.burst_limit,
    )
    # Its value is what the authoriser answers for the platform-admin key: an identifier for
    # API Gateway's count, not a credential (the key source is AUTHORIZER).
    name = gateway_key_name(stage.name, None)
    platform_key = apigateway.CfnApiKey(
        scope,
        "PlatformGatewayKey",
        name=name,
        value=name,
        enabled=True,
        description="usage-plan identity of the platform-admin key",
        tags=[CfnTag(key=STAGE_TAG, value=stage.name)],
    )
    apigateway.CfnUsagePlanKey(
        scope,
        "PlatformGatewayKeyInPlan",
        key_id=platform_key.ref,
        key_type="API_KEY",
        usage_plan_id=platform_plan.ref,
    )
    return plans
