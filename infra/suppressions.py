"""Linter findings the design answers differently, each with its reason, written into the
template as resource metadata (checkov reads `Metadata.checkov.skip`)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnResource

FUNCTION_CHECKS = {
    "CKV_AWS_116": (
        "No DLQ: API Gateway invokes the function synchronously, where a DLQ never applies; "
        "stream consumers get an on-failure SQS destination on their event source mapping."
    ),
    "CKV_AWS_117": (
        "No VPC: the function calls only AWS APIs (DynamoDB, KMS) with IAM-signed TLS "
        "requests; a VPC would add NAT or endpoint cost and cold-start time and narrow nothing "
        "that the role's policy does not already narrow."
    ),
    "CKV_AWS_115": (
        "No reserved concurrency: the API Gateway stage throttle bounds the request rate, and "
        "reserving concurrency takes it from the account's pool (it fails outright on accounts "
        "with the low default limit)."
    ),
}

REST_API_CHECKS = {
    "CKV_AWS_120": (
        "No API Gateway cache: every answer is specific to the caller's tenant and key, and "
        "data changes must be visible at once; a shared cache could serve one tenant's data "
        "to another."
    ),
}


def skip_checkov(resource: CfnResource, checks: Mapping[str, str]) -> None:
    resource.add_metadata(
        "checkov",
        {"skip": [{"id": check, "comment": reason} for check, reason in checks.items()]},
    )
