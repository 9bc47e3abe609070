"""Customer merge and unmerge of customers with service tickets (moto, issue 16): the
ticket, its copy under the customer and its events follow the customer, and a ticket
changed while the merge moves it keeps the change."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.dal import keys
from chalicelib.dal import merge as merge_repository
from chalicelib.dal import tickets as ticket_repository
from chalicelib.dal.models import CustomerTicketItem, TicketEventItem, TicketItem
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.paging import PageRequest
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.domain.tickets import TicketChange
from tests.support.api import Answer, Api


def _tenant(api: Api) -> TenantId:
    assert api.tenant_id is not None
    return tenant_id(api.tenant_id)


def _open_ticket(api: Api, customer: str, subject: str) -> str:
    body = {
        "customer_id": customer,
        "category": "complaint",
        "subject": subject,
        "description": "It arrived broken.",
        "channel": "email",
    }
    answer = api.post("/v1/tickets", body)
    assert answer.status == 201, answer.text
    return str(answer.json["id"])


def _transition(api: Api, ticket: str, to: str) -> Answer:
    return api.post(f"/v1/tickets/{ticket}/transitions", {"to": to})


def _merge(api: Api, survivor: str, sources: list[str]) -> Answer:
    etag = api.get(f"/v1/customers/{survivor}").headers["etag"]
    return api.post(
        f"/v1/customers/{survivor}/merge", {"from": sources}, headers={"If-Match": etag}
    )


def _unmerge(api: Api, survivor: str, source: str) -> Answer:
    return api.post(f"/v1/customers/{survivor}/unmerge", {"source": source})


def _stored_ticket(api: Api, ticket: str) -> TicketItem:
    return TicketItem.get(
        keys.ticket_pk(_tenant(api), ticket), keys.TICKET_SK, consistent_read=True
    )


def _copies(api: Api, customer: str) -> list[CustomerTicketItem]:
    return list(
        CustomerTicketItem.query(
            keys.customer_pk(_tenant(api), customer),
            CustomerTicketItem.sk.startswith(keys.CUSTOMER_TICKET_PREFIX),
            consistent_read=True,
        )
    )


def _events(api: Api, customer: str) -> list[TicketEventItem]:
    return list(
        TicketEventItem.query(
            keys.customer_pk(_tenant(api), customer),
            TicketEventItem.sk.startswith(keys.TICKET_EVENT_PREFIX),
            consistent_read=True,
        )
    )


def _listed_by_customer(api: Api, customer: str) -> list[str]:
    page = ticket_repository.list_by_customer(_tenant(api), customer, PageRequest(100, None))
    return [ticket.id for ticket in page.items]


def _timeline_ticket_ids(api: Api, customer: str) -> list[str]:
    answer = api.get(f"/v1/customers/{customer}/interactions?limit=100")
    assert answer.status == 200, answer.text
    return [item["ticket"]["ticket_id"] for item in answer.json["items"] if item["ticket"]]


def test_a_merge_moves_the_sources_tickets_and_their_events_to_the_survivor(
    tenant_a: Api,
) -> None:
    # Given a source with two tickets (one moved on to open) and a survivor with its own
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    own = _open_ticket(tenant_a, survivor, "Survivor's own")
    first = _open_ticket(tenant_a, source, "Broken zip")
    second = _open_ticket(tenant_a, source, "Late parcel")
    assert _transition(tenant_a, first, "open").status == 200
    events_before = {(e.ticket_id, e.seq) for e in _events(tenant_a, source)}
    version_before = _stored_ticket(tenant_a, first).version

    # When the source is merged into the survivor
    answer = _merge(tenant_a, survivor, [source])

    # Then the merge is done and each ticket names the survivor, one version on
    assert answer.status == 200, answer.text
    assert answer.json["state"] == "done"
    for ticket in (first, second):
        read = tenant_a.get(f"/v1/tickets/{ticket}")
        assert read.status == 200, read.text
        assert read.json["customer_id"] == survivor
    assert _stored_ticket(tenant_a, first).version == version_before + 1
    # and the copies live under the survivor only, at the ticket's version
    copies = {copy.ticket_id: copy for copy in _copies(tenant_a, survivor)}
    assert set(copies) == {own, first, second}
    assert copies[first].customer_id == survivor
    assert copies[first].version == _stored_ticket(tenant_a, first).version
    assert copies[first].status == "open"
    assert _copies(tenant_a, source) == []
    listed = tenant_a.get(f"/v1/tickets?customer_id={survivor}").json["items"]
    assert {ticket["id"] for ticket in listed} == {own, first, second}
    # and the events moved with them, and show on the survivor's timeline
    moved = {(e.ticket_id, e.seq) for e in _events(tenant_a, survivor) if e.ticket_id != own}
    assert moved == events_before
    assert {e.customer_id for e in _events(tenant_a, survivor)} == {survivor}
    assert _events(tenant_a, source) == []
    assert {first, second} <= set(_timeline_ticket_ids(tenant_a, survivor))
    # and a later change of a moved ticket lands with the survivor
    assert _transition(tenant_a, second, "open").status == 200
    assert _stored_ticket(tenant_a, second).customer_id == survivor
    assert [c.status for c in _copies(tenant_a, survivor) if c.ticket_id == second] == ["open"]
    assert _events(tenant_a, source) == []


def test_unmerge_moves_the_tickets_back_to_the_source(tenant_a: Api) -> None:
    # Given a merged source that brought a ticket, changed at the survivor since
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    ticket = _open_ticket(tenant_a, source, "Broken zip")
    events_before = {(e.ticket_id, e.seq) for e in _events(tenant_a, source)}
    assert _merge(tenant_a, survivor, [source]).status == 200
    assert _transition(tenant_a, ticket, "open").status == 200

    # When it is unmerged
    answer = _unmerge(tenant_a, survivor, source)

    # Then the ticket names the source again, with its copy (as changed) under the source
    assert answer.status == 200, answer.text
    stored = _stored_ticket(tenant_a, ticket)
    assert (stored.customer_id, stored.status) == (source, "open")
    assert tenant_a.get(f"/v1/tickets/{ticket}").json["customer_id"] == source
    assert _listed_by_customer(tenant_a, source) == [ticket]
    assert _listed_by_customer(tenant_a, survivor) == []
    [copy] = _copies(tenant_a, source)
    assert (copy.customer_id, copy.version, copy.status) == (source, stored.version, "open")
    # and the events the merge moved are back; the one written at the survivor stays there
    assert {(e.ticket_id, e.seq) for e in _events(tenant_a, source)} == events_before
    assert {e.customer_id for e in _events(tenant_a, source)} == {source}
    assert ticket in _timeline_ticket_ids(tenant_a, source)
    left = [(e.ticket_id, e.seq) for e in _events(tenant_a, survivor)]
    assert len(left) == 1 and left[0] not in events_before


def test_a_ticket_changed_while_the_merge_moves_it_keeps_the_change(
    tenant_a: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a source with a ticket, changed after the merge step read it and before the
    # step's transaction (the ticket's version moves on under the step)
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    ticket = _open_ticket(tenant_a, source, "Broken zip")
    real_attribution = merge_repository._attribute_deletes
    changes: list[Answer] = []

    def change_in_between(*args: Any) -> None:
        if not changes:
            changes.append(_transition(tenant_a, ticket, "open"))
        real_attribution(*args)

    monkeypatch.setattr(merge_repository, "_attribute_deletes", change_in_between)

    # When the source is merged
    answer = _merge(tenant_a, survivor, [source])

    # Then the change was accepted, and the merge (resumed past the conflict) finished
    assert [change.status for change in changes] == [200], changes[0].text
    assert answer.status == 200, answer.text
    # and the ticket, its one copy and every event are at the survivor, the change kept
    stored = _stored_ticket(tenant_a, ticket)
    assert (stored.customer_id, stored.status) == (survivor, "open")
    [copy] = _copies(tenant_a, survivor)
    assert (copy.status, copy.version) == ("open", stored.version)
    assert _copies(tenant_a, source) == [] and _events(tenant_a, source) == []
    assert len(_events(tenant_a, survivor)) == stored.event_count


def test_a_ticket_change_that_read_before_the_merge_reads_again_and_lands_at_the_survivor(
    tenant_a: Api,
) -> None:
    # Given a ticket change derived from the ticket as read before the merge
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    ticket = _open_ticket(tenant_a, source, "Broken zip")
    read_before = ticket_repository.get_ticket(_tenant(tenant_a), ticket)
    assert read_before is not None
    assert _merge(tenant_a, survivor, [source]).status == 200

    # When the change is written under the version it read
    with pytest.raises(ConcurrentModification):
        ticket_repository.save_ticket(
            _tenant(tenant_a), TicketChange(read_before), read_before.version
        )

    # Then it is refused (nothing written under the source), and the same change through
    # the API (which reads again) lands at the survivor
    assert _copies(tenant_a, source) == []
    assert _transition(tenant_a, ticket, "open").status == 200
    assert _stored_ticket(tenant_a, ticket).customer_id == survivor
    assert [c.status for c in _copies(tenant_a, survivor)] == ["open"]
