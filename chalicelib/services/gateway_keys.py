"""Keep each tenant's API Gateway key in its plan's usage plan (deployed stages only).

Called by tenant onboarding, plan changes and offboarding *before* the tenant record is
written: the record's `gateway_key_id` and `gateway_plan` only ever say what API Gateway
already has. If API Gateway fails, `GatewayUnavailable` stops the change with nothing
recorded, and sending the same request again converges (every gateway call is idempotent).
Locally (`GATEWAY_USAGE_PLANS` empty) nothing is called and tenants carry no gateway key.
"""

from __future__ import annotations

from dataclasses import replace

from chalicelib.dal import gateway
from chalicelib.domain.gateway import STAGE_TAG, gateway_key_name, needs_gateway_sync
from chalicelib.domain.tenancy import Tenant, TenantStatus
from chalicelib.settings import get_settings


def gateway_keys_enabled() -> bool:
    return bool(get_settings().gateway_usage_plans)


def sync_gateway_key(tenant: Tenant) -> Tenant:
    """API Gateway made to match `tenant`; answers the tenant with its gateway fields set."""
    if not gateway_keys_enabled() or not needs_gateway_sync(tenant):
        return tenant
    settings = get_settings()
    names = settings.gateway_usage_plans.values()
    usage_plans = [gateway.usage_plan_id(name, names) for name in names]
    if tenant.status is TenantStatus.DELETED:
        if tenant.gateway_key_id is not None:
            gateway.delete_key(tenant.gateway_key_id, usage_plans)
        return replace(tenant, gateway_key_id=None, gateway_plan=None)
    name = gateway_key_name(settings.stage, tenant.id)
    key_id = tenant.gateway_key_id or gateway.ensure_key(name, {STAGE_TAG: settings.stage})
    target = gateway.usage_plan_id(settings.gateway_usage_plans[tenant.plan.value], names)
    gateway.place_key(key_id, target, usage_plans)
    return replace(tenant, gateway_key_id=key_id, gateway_plan=tenant.plan)


def undo_gateway_key(synced: Tenant, recorded: Tenant | None) -> None:
    """Best effort, after `synced` could not be recorded: put API Gateway back as `recorded`
    says (or remove the key of a tenant that was never recorded). A failure here leaves a
    state the next change of the tenant converges (its record still needs a sync)."""
    if not gateway_keys_enabled() or synced == recorded:
        return
    try:
        if recorded is None:
            sync_gateway_key(replace(synced, status=TenantStatus.DELETED))
        elif recorded.status is not TenantStatus.DELETED and recorded.gateway_key_id is not None:
            sync_gateway_key(replace(recorded, gateway_plan=None))
    except Exception:  # noqa: BLE001 - the original failure is the one to report
        from chalicelib.observability import logger

        logger.exception("could not undo an API Gateway key change", tenant_id=synced.id)
