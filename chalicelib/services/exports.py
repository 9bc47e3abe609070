"""Customer exports (issue 16): pages of profiles for the CSV export routes, read by Query
and BatchGetItem only (docs/data-model.md, "Exports")."""

from __future__ import annotations

from chalicelib.dal import customers as customer_repository
from chalicelib.domain.customers import Customer
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId
from chalicelib.services import segments as segment_service


def export_customers(tenant: TenantId, page: PageRequest) -> Page[Customer]:
    """Every customer, newest first: one Query on the customer list index per page."""
    return customer_repository.list_customers(tenant, page)


def export_segment(tenant: TenantId, segment_id: str, page: PageRequest) -> Page[Customer]:
    """The segment's members in membership order: the membership Queries of a page, then
    one BatchGetItem for their profiles. Raises NotFound for an unknown segment."""
    members = segment_service.list_members(tenant, segment_id, page)
    return Page(customer_repository.get_customers(tenant, members.items), members.next_cursor)
