"""Customer profiles: create, read, change, delete, look up."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from chalicelib.dal import customers as repository
from chalicelib.domain.clock import utc_now
from chalicelib.domain.customers import (
    Customer,
    CustomerChanges,
    UniqueField,
    apply_changes,
    merchant_fields_changed,
)
from chalicelib.domain.errors import (
    ConcurrentModification,
    FieldIssue,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    PreconditionFailed,
)
from chalicelib.domain.ids import is_customer_id, new_customer_id
from chalicelib.domain.metrics import CustomerMetrics
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.plans import limits_of
from chalicelib.domain.tenancy import Plan, TenantId
from chalicelib.observability import BusinessMetric, count

_IDENTIFYING_FIELDS = ("name", "email", "phone", "external_id")
_UNCONDITIONAL_ATTEMPTS = 10
T = TypeVar("T")


def _back_off(attempt: int) -> None:
    """Jittered, growing pause before re-reading a record another writer just changed."""
    time.sleep(random.uniform(0, 0.01 * (2 ** min(attempt, 5))))


def _not_found(customer_id: str) -> NotFound:
    return NotFound(f"customer {customer_id} does not exist")


def _refuse_merchant_changes(before: Customer, after: Customer) -> None:
    names = merchant_fields_changed(before, after)
    if names:
        raise Forbidden(f"app credentials may not set {', '.join(names)}")


def new_customer(changes: CustomerChanges, app_credentials: bool = False) -> Customer:
    """A customer made of `changes`, not yet stored. App credentials (a sign-up) may not
    set the merchant's fields (tags, attributes)."""
    if not any(changes.fields.get(name) for name in _IDENTIFYING_FIELDS):
        raise InvalidInput(
            [
                FieldIssue(
                    "name", "give at least one of name, email, phone or external_id", "missing"
                )
            ]
        )
    now = utc_now()
    blank = Customer(id=new_customer_id(), created_at=now, updated_at=now, version=0)
    customer = apply_changes(blank, changes, now)
    if app_credentials:
        _refuse_merchant_changes(blank, customer)
    return customer


def create_customer(
    tenant: TenantId, plan: Plan, changes: CustomerChanges, app_credentials: bool = False
) -> Customer:
    """A new customer, within the plan's customer limit."""
    customer = new_customer(changes, app_credentials)
    created = repository.insert_customer(tenant, customer, limits_of(plan).max_customers)
    count(BusinessMetric.CUSTOMERS_CREATED)
    return created


def get_customer(tenant: TenantId, customer_id: str) -> Customer:
    customer = repository.get_customer(tenant, customer_id) if is_customer_id(customer_id) else None
    if customer is None:
        raise _not_found(customer_id)
    return customer


def get_customer_with_metrics(
    tenant: TenantId, customer_id: str
) -> tuple[Customer, CustomerMetrics | None]:
    """For GET /v1/customers/{id}: the profile and its metrics, in one Query."""
    customer, metrics = (
        repository.get_customer_with_metrics(tenant, customer_id)
        if is_customer_id(customer_id)
        else (None, None)
    )
    if customer is None:
        raise _not_found(customer_id)
    return customer, metrics


def _read_at(tenant: TenantId, customer_id: str, expected_version: int | None) -> Customer:
    current = get_customer(tenant, customer_id)
    if expected_version is not None and current.version != expected_version:
        raise PreconditionFailed(
            f"customer {customer_id} is at version {current.version}, not {expected_version}"
        )
    return current


def _write_with_retry(
    tenant: TenantId,
    customer_id: str,
    expected_version: int | None,
    write: Callable[[Customer], T],
) -> T:
    """Read, then write what `write` derives from the record read.

    With `expected_version` (If-Match) a record changed by someone else fails with
    PreconditionFailed; without it, a concurrent change is retried on the fresh record.
    """
    for attempt in range(_UNCONDITIONAL_ATTEMPTS):
        current = _read_at(tenant, customer_id, expected_version)
        try:
            return write(current)
        except ConcurrentModification:
            if expected_version is not None:
                raise PreconditionFailed(
                    f"customer {customer_id} changed since version {expected_version}"
                ) from None
            _back_off(attempt)
    raise ConcurrentModification(f"customer {customer_id} keeps changing; retry")


def changed_customer(
    current: Customer, changes: CustomerChanges, app_credentials: bool = False
) -> Customer | None:
    """`current` with `changes` applied, or None when they alter nothing (nothing to
    write). App credentials (a customer token) may not change the merchant's fields."""
    updated = apply_changes(current, changes, utc_now())
    if app_credentials:
        _refuse_merchant_changes(current, updated)
    if replace(updated, updated_at=current.updated_at) == current:
        return None
    return updated


def update_customer(
    tenant: TenantId,
    customer_id: str,
    changes: CustomerChanges,
    expected_version: int | None,
    app_credentials: bool = False,
) -> Customer:
    """Apply a partial update; a change that alters nothing writes nothing. App credentials
    (a customer token) may not change the merchant's fields (tags, attributes)."""

    def write(current: Customer) -> Customer:
        updated = changed_customer(current, changes, app_credentials)
        if updated is None:
            return current
        return repository.replace_customer(tenant, current, updated)

    return _write_with_retry(tenant, customer_id, expected_version, write)


def delete_customer(tenant: TenantId, customer_id: str, expected_version: int | None) -> None:
    _write_with_retry(
        tenant,
        customer_id,
        expected_version,
        lambda current: repository.delete_customer(tenant, current),
    )


@dataclass(frozen=True)
class CustomerLookup:
    """At most one criterion: a unique field's value, or a tag. None of them lists all."""

    unique_field: UniqueField | None = None
    value: str | None = None
    tag: str | None = None


def find_customers(tenant: TenantId, lookup: CustomerLookup, page: PageRequest) -> Page[Customer]:
    if lookup.unique_field is not None and lookup.value is not None:
        if page.cursor is not None:
            raise MalformedRequest(
                "cursor is not valid for this query; start again without a cursor"
            )
        customer_id = repository.find_customer_id(tenant, lookup.unique_field, lookup.value)
        customer = repository.get_customer(tenant, customer_id) if customer_id else None
        return Page([customer] if customer else [], None)
    if lookup.tag is not None:
        return repository.list_customers_with_tag(tenant, lookup.tag, page)
    return repository.list_customers(tenant, page)
