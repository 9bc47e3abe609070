"""Account-wide (per region) settings the service needs once, whatever the stage."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.stages import APP_NAME


class ApiGatewayAccountStack(Stack):
    """The role API Gateway uses to write access logs to CloudWatch Logs.

    It is one setting per account and region (AWS::ApiGateway::Account), shared by every
    REST API there, so it lives in its own stack, deployed once before the stages.
    """

    def __init__(self, scope: Construct, construct_id: str = "account", **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=f"{APP_NAME}-account",
            description=f"{APP_NAME}: API Gateway's CloudWatch Logs role (once per region)",
            **kwargs,
        )
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
