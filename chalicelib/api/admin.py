"""Platform-admin routes: onboarding tenants."""

from __future__ import annotations

from chalicelib.api.routing import Call, OperationBlueprint, Reply
from chalicelib.schemas.tenants import IssuedKeyOut, TenantCreate, TenantCreated, TenantOut
from chalicelib.services import tenants as service

admin_api = OperationBlueprint(__name__)


@admin_api.operation(
    "POST",
    "/v1/admin/tenants",
    summary="Create a tenant",
    tag="admin",
    body=TenantCreate,
    response=TenantCreated,
    status=201,
)
def create_tenant(call: Call[TenantCreate, None]) -> Reply:
    """Creates an active tenant and its first admin key, whose secret appears only here."""
    tenant, first_key = service.create_tenant(call.body.name, call.body.plan)
    body = TenantCreated(**TenantOut.of(tenant).model_dump(), api_key=IssuedKeyOut.of(first_key))
    return Reply(body, 201)
