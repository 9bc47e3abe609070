"""The service's DynamoDB tables, made from chalicelib.dal.schema (the one description of
keys and indexes that local and test tables are made from too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from chalicelib.dal.schema import ALL_TABLES, TableSpec
from infra.stages import StageSettings

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


def _key_attributes(
    key_schema: list[dict[str, str]], types: Mapping[str, str]
) -> tuple[dynamodb.Attribute, dynamodb.Attribute | None]:
    by_role = {element["KeyType"]: element["AttributeName"] for element in key_schema}

    def attribute(name: str) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[types[name]])

    sort_key = by_role.get("RANGE")
    return attribute(by_role["HASH"]), attribute(sort_key) if sort_key else None


def build_table(
    scope: Construct, spec: TableSpec, table_name: str, key: kms.IKey, stage: StageSettings
) -> dynamodb.Table:
    """One table as `spec.create_table_request` describes it, plus what AWS adds: KMS,
    point-in-time recovery, TTL and (in protected stages) deletion protection."""
    request: dict[str, Any] = spec.create_table_request(table_name)
    types = {a["AttributeName"]: a["AttributeType"] for a in request["AttributeDefinitions"]}
    partition_key, sort_key = _key_attributes(request["KeySchema"], types)
    table = dynamodb.Table(
        scope,
        f"{spec.logical_name}Table",
        table_name=table_name,
        partition_key=partition_key,
        sort_key=sort_key,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=spec.ttl_attribute,
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        deletion_protection=stage.protect_data,
        removal_policy=stage.removal_policy,
    )
    for index in request.get("GlobalSecondaryIndexes", []):
        index_partition, index_sort = _key_attributes(index["KeySchema"], types)
        projection = index["Projection"]
        table.add_global_secondary_index(
            index_name=index["IndexName"],
            partition_key=index_partition,
            sort_key=index_sort,
            projection_type=_PROJECTIONS[projection["ProjectionType"]],
            non_key_attributes=projection.get("NonKeyAttributes"),
        )
    return table


def build_tables(
    scope: Construct, names: Mapping[str, str], key: kms.IKey, stage: StageSettings
) -> dict[str, dynamodb.Table]:
    """Every table in ALL_TABLES, keyed by its logical name ("Control", "Data").

    `names` is the stage's environment (.chalice/config.json): each table is named by its
    spec's environment variable there, the same name the function is given.
    """
    return {
        spec.logical_name: build_table(scope, spec, names[spec.environment_variable], key, stage)
        for spec in ALL_TABLES
    }
