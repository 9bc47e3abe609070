"""Per-tenant API Gateway keys (moto's API Gateway): onboarding puts the tenant's key in its
plan's usage plan, a plan change moves it, offboarding deletes it, repeats converge, and a
failure records nothing. Locally (no usage plans configured) API Gateway is never called."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.dal import control, gateway
from chalicelib.domain.gateway import STAGE_TAG, gateway_key_name
from chalicelib.domain.tenancy import Plan, TenantStatus, tenant_id
from chalicelib.settings import reset_settings
from tests.support.api import Api

PLANS = [plan.value for plan in Plan]


def _plan_name(plan: str) -> str:
    return f"customer-ops-local-plan-{plan}"


@pytest.fixture
def usage_plans(dynamodb: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Usage plans in moto's API Gateway, named in GATEWAY_USAGE_PLANS as infra does."""
    client = boto3.client("apigateway", region_name="us-east-1")
    ids = {plan: client.create_usage_plan(name=_plan_name(plan))["id"] for plan in PLANS}
    client.create_usage_plan(name="another-service-plan")
    monkeypatch.setenv(
        "GATEWAY_USAGE_PLANS", json.dumps({plan: _plan_name(plan) for plan in PLANS})
    )
    reset_settings()
    gateway.reset_client()
    yield ids
    gateway.reset_client()
    reset_settings()


def _apigateway() -> Any:
    return boto3.client("apigateway", region_name="us-east-1")


def _keys_named(name: str) -> list[dict[str, Any]]:
    items = _apigateway().get_api_keys(nameQuery=name, includeValues=True)["items"]
    return [key for key in items if key["name"] == name]


def _plans_holding(key_id: str, usage_plans: dict[str, str]) -> set[str]:
    client = _apigateway()
    return {
        plan
        for plan, plan_id in usage_plans.items()
        if any(k["id"] == key_id for k in client.get_usage_plan_keys(usagePlanId=plan_id)["items"])
    }


def _stored(tenant: Api) -> Any:
    assert tenant.tenant_id is not None
    return control.get_tenant(tenant_id(tenant.tenant_id))


def test_a_new_tenant_gets_a_key_in_its_plans_usage_plan(
    platform: Api, usage_plans: dict[str, str]
) -> None:
    # When the platform admin creates a standard tenant
    tenant = platform.create_tenant("Gateway", plan="standard")
    # Then API Gateway has one key named (and valued) for the tenant, tagged with the stage
    name = gateway_key_name("local", tenant_id(str(tenant.tenant_id)))
    (key,) = _keys_named(name)
    assert key["value"] == name and key["enabled"]
    assert key["tags"] == {STAGE_TAG: "local"}
    # and it is in the standard usage plan only, as the tenant record says
    assert _plans_holding(key["id"], usage_plans) == {"standard"}
    stored = _stored(tenant)
    assert stored.gateway_key_id == key["id"] and stored.gateway_plan is Plan.STANDARD


def test_a_plan_change_moves_the_key_and_repeating_it_changes_nothing(
    platform: Api, usage_plans: dict[str, str]
) -> None:
    # Given a free tenant with its key in the free plan
    tenant = platform.create_tenant("Mover", plan="free")
    key_id = _stored(tenant).gateway_key_id
    path = f"/v1/admin/tenants/{tenant.tenant_id}"
    # When it moves to enterprise, twice
    first = platform.patch(path, {"plan": "enterprise"})
    again = platform.patch(path, {"plan": "enterprise"})
    # Then its one key is in the enterprise usage plan and no other
    assert first.status == again.status == 200, first.text
    assert _plans_holding(str(key_id), usage_plans) == {"enterprise"}
    assert _stored(tenant).gateway_key_id == key_id
    assert _stored(tenant).gateway_plan is Plan.ENTERPRISE
    assert len(_keys_named(gateway_key_name("local", tenant_id(str(tenant.tenant_id))))) == 1


def test_offboarding_deletes_the_key(platform: Api, usage_plans: dict[str, str]) -> None:
    # Given a tenant with a key
    tenant = platform.create_tenant("Leaver", plan="standard")
    key_id = str(_stored(tenant).gateway_key_id)
    # When it is deleted (twice: the second changes nothing)
    path = f"/v1/admin/tenants/{tenant.tenant_id}"
    assert platform.delete(path).status == 202
    assert platform.delete(path).status == 202
    # Then the key is gone from API Gateway and from the tenant record
    assert _keys_named(gateway_key_name("local", tenant_id(str(tenant.tenant_id)))) == []
    assert _plans_holding(key_id, usage_plans) == set()
    stored = _stored(tenant)
    assert stored.status is TenantStatus.DELETED and stored.gateway_key_id is None


def test_a_tenant_without_a_key_gets_one_on_its_next_change(
    platform: Api, usage_plans: dict[str, str]
) -> None:
    # Given a tenant whose key was lost (or that predates per-tenant keys)
    tenant = platform.create_tenant("Old", plan="free")
    stored = _stored(tenant)
    _apigateway().delete_api_key(apiKey=str(stored.gateway_key_id))
    from dataclasses import replace

    control.save_tenant(stored, replace(stored, gateway_key_id=None, gateway_plan=None))
    # When the platform admin updates it (even with no change of plan)
    answer = platform.patch(f"/v1/admin/tenants/{tenant.tenant_id}", {"name": "Old Co"})
    # Then it has a key in its plan again
    assert answer.status == 200, answer.text
    new_key = _stored(tenant).gateway_key_id
    assert new_key is not None and _plans_holding(new_key, usage_plans) == {"free"}


def test_a_gateway_failure_records_nothing_and_answers_503(
    platform: Api, usage_plans: dict[str, str]
) -> None:
    # Given an API Gateway that refuses every call
    client = gateway._client()
    with Stubber(client) as stubber:
        stubber.add_client_error("get_api_keys", "TooManyRequestsException", http_status_code=429)
        # When a tenant is created
        answer = platform.post("/v1/admin/tenants", {"name": "Unlucky", "plan": "free"})
    # Then the answer is a retryable 503 and no tenant exists
    problem = answer.problem(503)
    assert problem["type"].endswith("gateway-unavailable")
    assert answer.headers["retry-after"] == "1"
    names = [t["name"] for t in platform.get("/v1/admin/tenants").json["items"]]
    assert "Unlucky" not in names


def test_locally_no_usage_plans_means_no_gateway_call(
    platform: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no GATEWAY_USAGE_PLANS (make run) and an API Gateway client that fails if used
    monkeypatch.setattr(gateway, "_call", _must_not_be_called)
    # When a tenant is created, moved and deleted
    tenant = platform.create_tenant("Local", plan="free")
    path = f"/v1/admin/tenants/{tenant.tenant_id}"
    assert platform.patch(path, {"plan": "standard"}).status == 200
    assert platform.delete(path).status == 202
    # Then nothing was asked of API Gateway and the tenant carries no gateway key
    assert _stored(tenant).gateway_key_id is None


def _must_not_be_called(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"API Gateway called locally: {args} {kwargs}")
