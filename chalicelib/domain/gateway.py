"""Per-tenant API Gateway keys: how they are named and when a tenant's key must change.

Deployed, each tenant has one API Gateway API key in the usage plan of its plan, so API
Gateway throttles each tenant separately. The request authoriser hands API Gateway the key's
*value* as `usageIdentifierKey`; with the API's key source set to AUTHORIZER, clients never
send that value and API Gateway never reads it from a header, so it identifies a tenant
without being a credential. It is derived from the stage and tenant id, so the authoriser
needs no lookup to find it and re-creating a key after a failure converges on the same one.
"""

from __future__ import annotations

from chalicelib.domain.tenancy import Tenant, TenantId, TenantStatus

GATEWAY_KEY_PREFIX = "customer-ops"
PLATFORM_GATEWAY_KEY = "platform"
STAGE_TAG = "customer-ops:stage"
"""Every gateway key the service creates carries this tag with its stage as value; the API
function's IAM policy may delete only keys tagged with its own stage."""


def gateway_key_name(stage: str, tenant: TenantId | None) -> str:
    """The API Gateway key's name and value (API Gateway needs at least 20 characters)."""
    return f"{GATEWAY_KEY_PREFIX}-{stage}-{tenant or PLATFORM_GATEWAY_KEY}"


def needs_gateway_sync(tenant: Tenant) -> bool:
    """Whether API Gateway has to change for the tenant record to be true: an active or
    suspended tenant needs a key in its plan's usage plan; a deleted tenant needs none."""
    if tenant.status is TenantStatus.DELETED:
        return tenant.gateway_key_id is not None
    return tenant.gateway_key_id is None or tenant.gateway_plan is not tenant.plan
