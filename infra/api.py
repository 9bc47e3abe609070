"""API Gateway settings Chalice does not manage: name, access logs, throttling, tracing, and
gateway responses that give API Gateway's own errors the service's problem+json shape."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Fn, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from chalicelib.api.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from chalicelib.domain.plans import PLAN_LIMITS
from infra.chalice_app import SAM_API, PackagedApp
from infra.stages import StageSettings
from infra.suppressions import REST_API_CHECKS, skip_checkov

REST_API = "RestAPI"


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
    return access_logs


def declare_usage_plans(
    scope: Construct, api_stage: str, stage: StageSettings
) -> dict[str, apigateway.CfnUsagePlan]:
    """One usage plan per plan of chalicelib/domain/plans.py, with its rate and burst.

    API Gateway applies a usage plan's throttle to each API key in it separately, so a key
    per tenant makes the limit per tenant, not per tier. Requests are counted against a plan
    only once they carry a key (see docs/security.md for what remains to wire up).
    """
    plans = {}
    for plan, limits in PLAN_LIMITS.items():
        usage_plan = apigateway.CfnUsagePlan(
            scope,
            f"UsagePlan{plan.value.title()}",
            usage_plan_name=stage.resource_name(f"plan-{plan.value}"),
            description=f"{plan.value} plan: per-key (per-tenant) request rate and burst",
            api_stages=[
                apigateway.CfnUsagePlan.ApiStageProperty(api_id=Fn.ref(REST_API), stage=api_stage)
            ],
            throttle=apigateway.CfnUsagePlan.ThrottleSettingsProperty(
                rate_limit=limits.requests_per_second, burst_limit=limits.burst
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
        plans[plan.value] = usage_plan
    return plans
