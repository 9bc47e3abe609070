"""One IAM role per function, granting what infra/access.py declares and nothing more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.access import FunctionAccess, TableAccess

_KMS_READ = ("kms:Decrypt", "kms:DescribeKey")
_KMS_WRITE = ("kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")


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


def function_role(
    scope: Construct,
    access: FunctionAccess,
    tables: Mapping[str, dynamodb.ITable],
    key: kms.IKey,
    log_group: logs.ILogGroup,
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
