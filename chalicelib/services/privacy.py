"""Customers' rights: export everything held about a customer, and erase it.

`export_customer` assembles the dossier from the customer's partition, its tickets'
comments and the audit entries about the customer. `erase_customer` deletes the profile
(with its unique claims and tag listings) and records the erasure in one transaction,
then anonymises what the books keep; it is resumable and idempotent (see
docs/data-model.md, "Customers' rights").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime

from chalicelib.dal import offers as offers_repository
from chalicelib.dal import privacy as repository
from chalicelib.dal.merge import forget_merged_sources
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import ConcurrentModification, NotFound, PreconditionFailed
from chalicelib.domain.ids import is_customer_id
from chalicelib.domain.privacy import CustomerDossier, Erasure, TicketRecord
from chalicelib.domain.tenancy import TenantId
from chalicelib.domain.tickets import TicketEvent
from chalicelib.services import duplicates
from chalicelib.services.audit import entries_about_customer

ERASE_ATTEMPTS = 5


def _not_found(customer_id: str) -> NotFound:
    return NotFound(f"customer {customer_id} does not exist")


def export_customer(
    tenant: TenantId, customer_id: str, now: datetime | None = None
) -> CustomerDossier:
    """Everything held about the customer: one Query of its partition, one per ticket
    for the comments, and the audit entries."""
    holdings = (
        repository.read_holdings(tenant, customer_id) if is_customer_id(customer_id) else None
    )
    if holdings is None or holdings.customer is None:
        raise _not_found(customer_id)
    events: dict[str, list[TicketEvent]] = defaultdict(list)
    for event in holdings.ticket_events:
        events[event.ticket_id].append(event)
    tickets = tuple(
        TicketRecord(
            ticket=ticket,
            comments=tuple(repository.ticket_comments(tenant, ticket.id)),
            events=tuple(sorted(events[ticket.id], key=lambda e: e.seq)),
        )
        for ticket in holdings.tickets
    )
    return CustomerDossier(
        customer=holdings.customer,
        state=holdings.state,
        account=holdings.account,
        interactions=tuple(holdings.interactions),
        ledger=tuple(holdings.ledger),
        tickets=tickets,
        audit_entries=tuple(entries_about_customer(tenant, customer_id)),
        exported_at=now or utc_now(),
        reward_redemptions=tuple(holdings.reward_redemptions),
        coupons=tuple(offers_repository.customer_coupons(tenant, customer_id, None)),
        campaign_messages=tuple(holdings.campaign_messages),
    )


def erase_customer(
    tenant: TenantId, customer_id: str, requested_by: str, expected_version: int | None = None
) -> Erasure:
    """Erase the customer's personal data in every item that holds it (a right-to-erasure
    request; the plain delete is `customers.delete_customer`).

    1. While the profile exists: delete it, its unique claims and tag listings, and put
       the erasure record, in one transaction (the customer is gone from every read).
    2. Anonymise interactions, ledger entries, tickets, their copies, events and
       comments (`repository.anonymise_holdings`; writes only what is not yet done), and
       drop the customer's match keys and duplicate candidate pairs (the profile is gone,
       so the duplicate refresh removes them; the data stream would, seconds later).
    3. Mark the erasure completed.

    A repeat, or a retry after a failure at any step, starts again from step 1 and
    converges: the erasure record is what lets it continue once the profile is gone.
    A customer deleted earlier without erasure still has its history (interactions,
    tickets, ledger): erasing it records the erasure and anonymises that history. A
    customer of whom nothing is held is NotFound; one already erased answers again.
    `requested_by` is the caller's key id; `expected_version` (If-Match) applies while
    the profile exists.
    """
    if not is_customer_id(customer_id):
        raise _not_found(customer_id)
    for _ in range(ERASE_ATTEMPTS):
        try:
            erasure = _begin_erasure(tenant, customer_id, requested_by, expected_version)
            changed = repository.anonymise_holdings(tenant, customer_id)
            duplicates.refresh_matches(tenant, customer_id)
            changed += forget_merged_sources(tenant, customer_id)
        except ConcurrentModification:
            continue
        finished = replace(
            erasure,
            completed_at=erasure.completed_at or utc_now(),
            items_anonymised=erasure.items_anonymised + changed,
        )
        if finished != erasure:
            repository.finish_erasure(tenant, finished)
        return finished
    raise ConcurrentModification(f"customer {customer_id} kept changing during the erasure")


def _begin_erasure(
    tenant: TenantId, customer_id: str, requested_by: str, expected_version: int | None
) -> Erasure:
    """Step 1: the erasure record, written with the profile's deletion (or alone, for a
    customer deleted earlier), or the one a previous attempt wrote."""
    holdings = repository.read_holdings(tenant, customer_id)
    customer = holdings.customer
    if customer is not None:
        if expected_version is not None and customer.version != expected_version:
            raise PreconditionFailed(
                f"customer {customer_id} is at version {customer.version}, not {expected_version}"
            )
        erasure = holdings.erasure or Erasure(customer_id, utc_now(), requested_by)
        repository.erase_profile(tenant, customer, erasure)
        return erasure
    if holdings.erasure is not None:
        return holdings.erasure
    if not holdings.holds_history:
        raise _not_found(customer_id)
    erasure = Erasure(customer_id, utc_now(), requested_by)
    repository.record_erasure(tenant, erasure)
    return erasure
