"""Customer profile routes."""

from __future__ import annotations

from chalicelib.api.access import holds_app_credentials
from chalicelib.api.routing import Call, Operations, Reply, etag_for
from chalicelib.domain.audit import ERASURE_ACTION
from chalicelib.domain.customers import Customer
from chalicelib.domain.paging import PageRequest
from chalicelib.lazy import deferred
from chalicelib.schemas.customers import (
    CustomerCreate,
    CustomerDeleteQuery,
    CustomerListQuery,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
)
from chalicelib.services import customers as service

customers_api = Operations(__name__)
# Only `DELETE ?erase=true` needs the erasure machinery (every table's personal data).
erase_customer = deferred("chalicelib.services.privacy", "erase_customer")


def _customer_reply(customer: Customer, status: int = 200) -> Reply:
    return Reply(CustomerOut.of(customer), status, {"ETag": etag_for(customer.version)})


@customers_api.operation(
    "POST",
    "/v1/customers",
    summary="Create a customer",
    tag="customers",
    body=CustomerCreate,
    response=CustomerOut,
    status=201,
    extra_responses=(409,),
)
def create_customer(call: Call[CustomerCreate, None]) -> Reply:
    """Creates a profile. Email, phone and external_id are each unique within the tenant."""
    customer = service.create_customer(
        call.tenant,
        call.plan,
        call.body.to_changes(),
        app_credentials=holds_app_credentials(call.principal),
    )
    reply = _customer_reply(customer, 201)
    reply.headers["Location"] = f"/v1/customers/{customer.id}"
    return reply


@customers_api.operation(
    "GET",
    "/v1/customers",
    summary="List or look up customers",
    tag="customers",
    query=CustomerListQuery,
    response=CustomerPage,
)
def list_customers(call: Call[None, CustomerListQuery]) -> Reply:
    """Newest first. With `email`, `phone` or `external_id`: the one matching customer (or
    none); with `tag`: the customers carrying that tag."""
    query = call.query
    unique = query.unique_filter()
    lookup = service.CustomerLookup(
        unique_field=unique[0] if unique else None,
        value=unique[1] if unique else None,
        tag=query.tag,
    )
    page = service.find_customers(call.tenant, lookup, PageRequest(query.limit, query.cursor))
    body = CustomerPage(items=[CustomerOut.of(c) for c in page.items], next_cursor=page.next_cursor)
    return Reply(body)


@customers_api.operation(
    "GET",
    "/v1/customers/{customer_id}",
    summary="Get a customer",
    tag="customers",
    response=CustomerOut,
    extra_responses=(304, 404),
)
def get_customer(call: Call[None, None], customer_id: str) -> Reply:
    """The profile with its ETag and its `metrics` (kept by the data stream, so they follow
    a write within seconds); `If-None-Match` with the current ETag answers 304."""
    customer, metrics = service.get_customer_with_metrics(call.tenant, customer_id)
    etag = etag_for(customer.version)
    if call.headers.get("if-none-match") == etag:
        return Reply(None, 304, {"ETag": etag})
    return Reply(CustomerOut.of(customer, metrics), 200, {"ETag": etag})


@customers_api.operation(
    "PATCH",
    "/v1/customers/{customer_id}",
    summary="Update a customer",
    tag="customers",
    body=CustomerPatch,
    response=CustomerOut,
    extra_responses=(404, 409, 412),
)
def update_customer(call: Call[CustomerPatch, None], customer_id: str) -> Reply:
    """Partial update (merge semantics). Send `If-Match` with the ETag to update only the
    version you read: a stale one answers 412."""
    customer = service.update_customer(
        call.tenant,
        customer_id,
        call.body.to_changes(),
        call.if_match_version(),
        app_credentials=holds_app_credentials(call.principal),
    )
    return _customer_reply(customer)


@customers_api.operation(
    "DELETE",
    "/v1/customers/{customer_id}",
    summary="Delete or erase a customer",
    tag="customers",
    query=CustomerDeleteQuery,
    status=204,
    extra_responses=(404, 412),
)
def delete_customer(call: Call[None, CustomerDeleteQuery], customer_id: str) -> Reply:
    """Deletes the profile; its email, phone and external_id become free again. With
    `erase=true` (admin keys): erases the customer's personal data in every item that
    holds it (profile, look-ups, interactions' free text, tickets, comments), keeping
    ledger amounts and counts; repeating an erasure answers 204 again."""
    if call.query.erase == "true":
        call.audit_as(ERASURE_ACTION)
        erase_customer(call.tenant, customer_id, call.actor, call.if_match_version())
    else:
        service.delete_customer(call.tenant, customer_id, call.if_match_version())
    return Reply(None, 204)
