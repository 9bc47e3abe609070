"""One of each resource a tenant route's path can name, for the tests that aim generated
or foreign requests at real ids (tests/e2e/test_fuzz_api.py, test_cross_tenant_fuzz.py)."""

from __future__ import annotations

from tests.support.api import Api


def seed_one_of_each(tenant: Api) -> dict[str, str]:
    """A customer with a purchase, a ticket with a comment, a segment, a spare staff key
    and an import awaiting its file of `tenant`; answers their ids by path parameter name."""
    customer = tenant.create_customer(name="Ann Lee", email="ann@example.com", tags=["vip"])
    purchase = {"type": "purchase", "amount": "80.00", "currency": "EUR", "order_id": "o-1"}
    assert tenant.post(f"/v1/customers/{customer['id']}/interactions", purchase).status == 201
    ticket = tenant.post(
        "/v1/tickets",
        {
            "customer_id": customer["id"],
            "category": "complaint",
            "subject": "Broken",
            "description": "Arrived broken",
            "channel": "email",
        },
    )
    assert ticket.status == 201, ticket.text
    comment = tenant.post(f"/v1/tickets/{ticket.json['id']}/comments", {"body": "On it"})
    assert comment.status == 201, comment.text
    segment = tenant.post(
        "/v1/segments",
        {"name": "VIPs", "rule": {"field": "tags", "op": "contains", "value": "vip"}},
    )
    assert segment.status == 201, segment.text
    key = tenant.post("/v1/api-keys", {"role": "staff", "label": "spare"})
    assert key.status == 201, key.text
    started = tenant.post(
        "/v1/imports",
        {
            "kind": "customers",
            "format": "csv",
            "upsert_key": "external_id",
            "mapping": {"id": "external_id"},
        },
    )
    assert started.status == 202, started.text
    return {
        "customer_id": customer["id"],
        "ticket_id": ticket.json["id"],
        "segment_id": segment.json["id"],
        "key_id": key.json["id"],
        "import_id": started.json["id"],
    }
