"""`python -m infra.gateway_keys`: tenants of a deployed stage that have no API Gateway key
(created before per-tenant keys) get one in their plan's usage plan, once."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.dal import control, gateway
from chalicelib.dal.schema import ALL_TABLES
from chalicelib.domain.clock import utc_now
from chalicelib.domain.ids import new_tenant_id
from chalicelib.domain.tenancy import Plan, Role, Tenant, TenantStatus, issue_key, tenant_id
from chalicelib.settings import reset_settings
from devtools.tables import ensure_tables, table_names
from infra.api import usage_plan_name
from infra.gateway_keys import provision_stage
from infra.stages import PROJECT_ROOT, STAGES, chalice_stage_environment


@pytest.fixture
def deployed_dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    tables = [spec.environment_variable for spec in ALL_TABLES]
    for name in ("STAGE", "AWS_REGION", "CURSOR_SECRET", "GATEWAY_USAGE_PLANS", *tables):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
    with mock_aws():
        gateway.reset_client()
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        ensure_tables(dynamodb, table_names(chalice_stage_environment(PROJECT_ROOT, "dev")))
        client = boto3.client("apigateway", region_name="us-east-1")
        yield {
            plan.value: client.create_usage_plan(name=usage_plan_name(STAGES["dev"], plan.value))[
                "id"
            ]
            for plan in Plan
        }
        gateway.reset_client()
    reset_settings()


def _tenant_without_gateway_key(plan: Plan) -> Tenant:
    now = utc_now()
    tenant = Tenant(
        id=tenant_id(new_tenant_id()),
        name="Before keys",
        plan=plan,
        status=TenantStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        key_count=1,
    )
    first = issue_key(Role.ADMIN, tenant.id, now, owner=tenant)
    control.insert_tenant(tenant, first.record)
    return tenant


def test_tenants_without_a_key_get_one_once(deployed_dev: dict[str, str]) -> None:
    # Given a stage whose tenants predate per-tenant keys
    provision_stage("dev", "us-east-1")  # points the settings at the stage
    older = _tenant_without_gateway_key(Plan.STANDARD)
    # When the command runs twice
    first = provision_stage("dev", "us-east-1")
    second = provision_stage("dev", "us-east-1")
    # Then the tenant got a key in the standard usage plan, the first time only
    assert (first, second) == (1, 0)
    stored = control.get_tenant(older.id)
    assert stored is not None and stored.gateway_plan is Plan.STANDARD
    members = boto3.client("apigateway", region_name="us-east-1").get_usage_plan_keys(
        usagePlanId=deployed_dev["standard"]
    )["items"]
    assert [member["id"] for member in members] == [stored.gateway_key_id]
