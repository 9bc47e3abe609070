"""Customers' rights: the export of everything held about a customer. (The erasure is
`DELETE /v1/customers/{id}?erase=true`, in chalicelib.api.customers.)"""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.schemas.privacy import CustomerExport
from chalicelib.services import privacy as service

privacy_api = Operations(__name__)


@privacy_api.operation(
    "GET",
    "/v1/customers/{customer_id}/export",
    summary="Export everything held about a customer",
    tag="customers",
    response=CustomerExport,
    extra_responses=(404,),
)
def export_customer(call: Call[None, None], customer_id: str) -> Reply:
    """One JSON document: profile and metrics, every interaction, the points account with
    its whole ledger and lots, every ticket with its comments (internal ones too) and
    events, segment memberships, and the audit entries about the customer. Admin keys."""
    return Reply(CustomerExport.of(service.export_customer(call.tenant, customer_id)))
