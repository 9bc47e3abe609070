"""GATEWAY_USAGE_PLANS: empty locally (no API Gateway keys), else a usage plan for every
plan; and when a tenant's API Gateway key has to change."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.domain.gateway import gateway_key_name, needs_gateway_sync
from chalicelib.domain.tenancy import Plan, Tenant, TenantStatus, tenant_id
from chalicelib.settings import Settings, SettingsError
from tests.support.settings import DEPLOYED_ENVIRON

ALL_PLANS = {plan.value: f"customer-ops-dev-plan-{plan.value}" for plan in Plan}


def test_no_usage_plans_is_the_local_default() -> None:
    assert Settings.from_environ(DEPLOYED_ENVIRON).gateway_usage_plans == {}


def test_usage_plans_are_read_for_every_plan() -> None:
    settings = Settings.from_environ(
        {**DEPLOYED_ENVIRON, "GATEWAY_USAGE_PLANS": json.dumps(ALL_PLANS)}
    )
    assert settings.gateway_usage_plans == ALL_PLANS


@pytest.mark.parametrize("value", ["{not json", json.dumps({"free": "only-one"})])
def test_partial_or_malformed_usage_plans_are_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_USAGE_PLANS"):
        Settings.from_environ({**DEPLOYED_ENVIRON, "GATEWAY_USAGE_PLANS": value})


NOW = datetime(2026, 1, 1, tzinfo=UTC)
TENANT = Tenant(
    id=tenant_id("ten_01HZZZZZZZZZZZZZZZZZZZZZZZ"),
    name="T",
    plan=Plan.FREE,
    status=TenantStatus.ACTIVE,
    created_at=NOW,
    updated_at=NOW,
)


def test_a_tenant_needs_a_key_in_its_plan_and_none_once_deleted() -> None:
    placed = replace(TENANT, gateway_key_id="k1", gateway_plan=Plan.FREE)
    assert needs_gateway_sync(TENANT)  # no key yet
    assert not needs_gateway_sync(placed)
    assert needs_gateway_sync(replace(placed, plan=Plan.STANDARD))  # a plan change
    assert not needs_gateway_sync(replace(placed, status=TenantStatus.SUSPENDED))
    assert needs_gateway_sync(replace(placed, status=TenantStatus.DELETED))
    assert not needs_gateway_sync(replace(TENANT, status=TenantStatus.DELETED))


def test_key_names_are_per_stage_and_long_enough_for_api_gateway() -> None:
    assert gateway_key_name("dev", TENANT.id) != gateway_key_name("prod", TENANT.id)
    assert len(gateway_key_name("dev", None)) >= 20
