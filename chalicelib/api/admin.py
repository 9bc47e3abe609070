"""Platform-admin routes: onboarding and operating tenants, their keys and usage."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply, etag_for
from chalicelib.domain.paging import PageRequest
from chalicelib.domain.tenancy import Tenant
from chalicelib.schemas.tenants import (
    ApiKeyCreate,
    ApiKeyList,
    ApiKeyOut,
    DailyUsageOut,
    IssuedKeyOut,
    TenantCreate,
    TenantCreated,
    TenantListQuery,
    TenantOut,
    TenantPage,
    TenantPatch,
    UsageOut,
    UsageQuery,
)
from chalicelib.services import api_keys
from chalicelib.services import tenants as service
from chalicelib.services.usage import usage_between

admin_api = Operations(__name__)
TAG = "admin"


def _tenant_reply(tenant: Tenant, status: int = 200) -> Reply:
    return Reply(TenantOut.of(tenant), status, {"ETag": etag_for(tenant.version)})


@admin_api.operation(
    "POST",
    "/v1/admin/tenants",
    summary="Create a tenant",
    tag=TAG,
    body=TenantCreate,
    response=TenantCreated,
    status=201,
)
def create_tenant(call: Call[TenantCreate, None]) -> Reply:
    """Creates an active tenant and its first admin key, whose secret appears only here."""
    body = call.body
    tenant, first_key = service.create_tenant(
        body.name, body.plan, body.contact_email, body.settings
    )
    created = TenantCreated(**TenantOut.of(tenant).model_dump(), api_key=IssuedKeyOut.of(first_key))
    return Reply(created, 201, {"Location": f"/v1/admin/tenants/{tenant.id}"})


@admin_api.operation(
    "GET",
    "/v1/admin/tenants",
    summary="List tenants",
    tag=TAG,
    query=TenantListQuery,
    response=TenantPage,
)
def list_tenants(call: Call[None, TenantListQuery]) -> Reply:
    """Newest first, optionally only those with one status."""
    page = service.list_tenants(call.query.status, PageRequest(call.query.limit, call.query.cursor))
    return Reply(
        TenantPage(items=[TenantOut.of(t) for t in page.items], next_cursor=page.next_cursor)
    )


@admin_api.operation(
    "GET",
    "/v1/admin/tenants/{tenant_id}",
    summary="Get a tenant",
    tag=TAG,
    response=TenantOut,
    extra_responses=(404,),
)
def get_tenant(call: Call[None, None], tenant_id: str) -> Reply:
    """The tenant, with the progress of its data purge once deleted."""
    return _tenant_reply(service.get_tenant(tenant_id))


@admin_api.operation(
    "PATCH",
    "/v1/admin/tenants/{tenant_id}",
    summary="Update a tenant",
    tag=TAG,
    body=TenantPatch,
    response=TenantOut,
    extra_responses=(404, 412),
)
def update_tenant(call: Call[TenantPatch, None], tenant_id: str) -> Reply:
    """Name, plan and contact; `contact_email: null` clears the contact. If-Match optional."""
    body = call.body
    changes = service.TenantChanges(
        name=body.name,
        plan=body.plan,
        contact_email=body.contact_email,
        clear_contact_email="contact_email" in body.model_fields_set and body.contact_email is None,
    )
    return _tenant_reply(service.update_tenant(tenant_id, changes, call.if_match_version()))


@admin_api.operation(
    "POST",
    "/v1/admin/tenants/{tenant_id}/suspend",
    summary="Suspend a tenant",
    tag=TAG,
    response=TenantOut,
    extra_responses=(404,),
)
def suspend_tenant(call: Call[None, None], tenant_id: str) -> Reply:
    """Its keys answer 403 within the authorisation cache time (5 s at most)."""
    return _tenant_reply(service.suspend_tenant(tenant_id))


@admin_api.operation(
    "POST",
    "/v1/admin/tenants/{tenant_id}/reactivate",
    summary="Reactivate a suspended tenant",
    tag=TAG,
    response=TenantOut,
    extra_responses=(404,),
)
def reactivate_tenant(call: Call[None, None], tenant_id: str) -> Reply:
    return _tenant_reply(service.reactivate_tenant(tenant_id))


@admin_api.operation(
    "DELETE",
    "/v1/admin/tenants/{tenant_id}",
    summary="Offboard a tenant",
    tag=TAG,
    response=TenantOut,
    status=202,
    extra_responses=(404,),
)
def delete_tenant(call: Call[None, None], tenant_id: str) -> Reply:
    """Marks the tenant deleted at once (its keys stop working) and queues the purge of all
    its data; `GET` on the tenant reports the purge's progress."""
    return _tenant_reply(service.delete_tenant(tenant_id), 202)


@admin_api.operation(
    "POST",
    "/v1/admin/tenants/{tenant_id}/api-keys",
    summary="Issue a key for a tenant",
    tag=TAG,
    body=ApiKeyCreate,
    response=IssuedKeyOut,
    status=201,
    extra_responses=(404,),
)
def create_tenant_key(call: Call[ApiKeyCreate, None], tenant_id: str) -> Reply:
    tenant = service.get_tenant(tenant_id)
    body = call.body
    issued = api_keys.create_key(tenant.id, body.role, body.label, body.expires_at)
    return Reply(IssuedKeyOut.of(issued), 201)


@admin_api.operation(
    "GET",
    "/v1/admin/tenants/{tenant_id}/api-keys",
    summary="List a tenant's keys",
    tag=TAG,
    response=ApiKeyList,
    extra_responses=(404,),
)
def list_tenant_keys(call: Call[None, None], tenant_id: str) -> Reply:
    tenant = service.get_tenant(tenant_id)
    return Reply(ApiKeyList(items=[ApiKeyOut.of(k) for k in api_keys.list_keys(tenant.id)]))


@admin_api.operation(
    "DELETE",
    "/v1/admin/tenants/{tenant_id}/api-keys/{key_id}",
    summary="Revoke a tenant's key",
    tag=TAG,
    status=204,
    extra_responses=(404,),
)
def revoke_tenant_key(call: Call[None, None], tenant_id: str, key_id: str) -> Reply:
    api_keys.revoke_key(service.get_tenant(tenant_id).id, key_id)
    return Reply(None, 204)


@admin_api.operation(
    "GET",
    "/v1/admin/tenants/{tenant_id}/usage",
    summary="A tenant's usage per day",
    tag=TAG,
    query=UsageQuery,
    response=UsageOut,
    extra_responses=(404,),
)
def tenant_usage(call: Call[None, UsageQuery], tenant_id: str) -> Reply:
    """Requests and DynamoDB capacity units consumed, per UTC day, `from`..`to` inclusive
    (by default the 30 days up to today; at most 366 days)."""
    tenant = service.get_tenant(tenant_id)
    period, days = usage_between(tenant.id, call.query.from_, call.query.to)
    return Reply(
        UsageOut(
            tenant_id=tenant.id,
            first_day=period.first,
            last_day=period.last,
            days=[DailyUsageOut.of(d) for d in days],
        )
    )
