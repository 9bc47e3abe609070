"""One IAM role per function, granting what infra/access.py declares and nothing more."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from chalicelib.domain.gateway import STAGE_TAG
from infra.access import ChainKeyUse, FunctionAccess, TableAccess

_KMS_READ = ("kms:Decrypt", "kms:DescribeKey")
_KMS_WRITE = ("kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
CHAIN_KEY_ACTIONS = {
    ChainKeyUse.SIGN: ("kms:Sign", "kms:Verify", "kms:GetPublicKey"),
    ChainKeyUse.VERIFY: ("kms:Verify", "kms:GetPublicKey"),
}


def _leading_keys(patterns: tuple[str, ...]) -> dict[str, Any] | None:
    if not patterns:
        return None
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(patterns)}}


def _table_statements(grant: TableAccess, table: dynamodb.ITable) -> list[iam.PolicyStatement]:
    statements = [
        iam.PolicyStatement(
            actions=sorted(grant.actions),
            resources=[table.table_arn],
            conditions=_leading_keys(grant.leading_keys),
        )
    ]
    statements += [
        iam.PolicyStatement(
            actions=sorted(index.actions),
            resources=[f"{table.table_arn}/index/{index_name}"],
            conditions=_leading_keys(index.leading_keys),
        )
        for index_name, index in sorted(grant.indexes.items())
    ]
    return statements


def _table_key_statement(access: FunctionAccess, key: kms.IKey, region: str) -> iam.PolicyStatement:
    """The tables' KMS key, usable only through DynamoDB."""
    writes = any(grant.writes for grant in access.tables)
    return iam.PolicyStatement(
        actions=list(_KMS_READ + (_KMS_WRITE if writes else ())),
        resources=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
    )


@dataclass(frozen=True)
class GatewayKeys:
    """What a function that manages tenants' API Gateway keys may touch: the stage's usage
    plans (by id) and the API keys tagged with the stage."""

    stage: str
    usage_plan_ids: Sequence[str]


def _gateway_statements(scope: Construct, gateway: GatewayKeys) -> list[iam.PolicyStatement]:
    stack = Stack.of(scope)
    base = f"arn:{stack.partition}:apigateway:{stack.region}::"
    tag = {"StringEquals": {f"aws:RequestTag/{STAGE_TAG}": gateway.stage}}
    return [
        # Usage plans by name (the function's environment names them), keys by name.
        iam.PolicyStatement(
            actions=["apigateway:GET"], resources=[f"{base}/usageplans", f"{base}/apikeys"]
        ),
        # New keys only with the stage's tag, and only keys with that tag deleted.
        iam.PolicyStatement(
            actions=["apigateway:POST"], resources=[f"{base}/apikeys"], conditions=tag
        ),
        iam.PolicyStatement(
            actions=["apigateway:DELETE"],
            resources=[f"{base}/apikeys/*"],
            conditions={"StringEquals": {f"aws:ResourceTag/{STAGE_TAG}": gateway.stage}},
        ),
        # Keys in and out of this stage's usage plans, and no others.
        iam.PolicyStatement(
            actions=["apigateway:POST"],
            resources=[f"{base}/usageplans/{plan}/keys" for plan in gateway.usage_plan_ids],
        ),
        iam.PolicyStatement(
            actions=["apigateway:GET", "apigateway:DELETE"],
            resources=[f"{base}/usageplans/{plan}/keys/*" for plan in gateway.usage_plan_ids],
        ),
    ]


def function_role(
    scope: Construct,
    access: FunctionAccess,
    tables: Mapping[str, dynamodb.ITable],
    key: kms.IKey,
    log_group: logs.ILogGroup,
    gateway: GatewayKeys | None = None,
    chain_key: kms.IKey | None = None,
) -> iam.Role:
    role = iam.Role(
        scope,
        f"{access.function}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Runs {access.function}: only the tables and actions in infra/access.py",
    )
    for grant in access.tables:
        for statement in _table_statements(grant, tables[grant.table.logical_name]):
            role.add_to_policy(statement)
    if access.tables:
        role.add_to_policy(_table_key_statement(access, key, Stack.of(scope).region))
    if access.manages_gateway_keys:
        if gateway is None:
            raise ValueError(f"{access.function} manages gateway keys: pass the usage plans")
        for statement in _gateway_statements(scope, gateway):
            role.add_to_policy(statement)
    if access.audit_chain_key is not None:
        if chain_key is None:
            raise ValueError(f"{access.function} uses the audit chain key: pass it")
        actions = list(CHAIN_KEY_ACTIONS[access.audit_chain_key])
        role.add_to_policy(iam.PolicyStatement(actions=actions, resources=[chain_key.key_arn]))
    # The same key encrypts the function's environment (it holds the cursor secret).
    role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]))
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    # X-Ray has no resource-level permissions: these two actions only accept "*".
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
        )
    )
    return role
