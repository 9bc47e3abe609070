"""Customer merge over HTTP against DynamoDB Local (issue 16): a merge and an unmerge, and
a merged customer's read redirected to the survivor by an ordinary HTTP client."""

from __future__ import annotations

from tests.support.api import Api


def _purchase(api: Api, customer: str, amount: str, order_id: str) -> None:
    answer = api.post(
        f"/v1/customers/{customer}/interactions",
        {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order_id},
    )
    assert answer.status == 201, answer.text


def _balance(api: Api, customer: str) -> int:
    answer = api.get(f"/v1/customers/{customer}/points")
    assert answer.status == 200, answer.text
    return int(answer.json["balance"])


def test_merge_and_unmerge_over_http(tenant_a: Api) -> None:
    # Given two profiles of one person, each with purchases
    survivor = tenant_a.create_customer(name="Ann", email="ann.merge@example.com")["id"]
    source = tenant_a.create_customer(name="Ann L", phone="+49301234571")["id"]
    _purchase(tenant_a, survivor, "120", "http-merge-1")
    _purchase(tenant_a, source, "80", "http-merge-2")
    etag = tenant_a.get(f"/v1/customers/{survivor}").headers["etag"]

    # When the source is merged into the survivor
    merged = tenant_a.post(
        f"/v1/customers/{survivor}/merge", {"from": [source]}, headers={"If-Match": etag}
    )

    # Then the survivor holds both balances and the source's phone
    assert merged.status == 200, merged.text
    assert merged.json["state"] == "done"
    assert _balance(tenant_a, survivor) == 200
    # and a read of the source is redirected (the HTTP client follows the 301)
    followed = tenant_a.get(f"/v1/customers/{source}")
    assert followed.status == 200
    assert (followed.json["id"], followed.json["phone"]) == (survivor, "+49301234571")

    # When it is unmerged
    unmerged = tenant_a.post(f"/v1/customers/{survivor}/unmerge", {"source": source})

    # Then each has its own points and phone again
    assert unmerged.status == 200, unmerged.text
    assert (_balance(tenant_a, survivor), _balance(tenant_a, source)) == (120, 80)
    assert tenant_a.get(f"/v1/customers/{source}").json["phone"] == "+49301234571"


def _open_ticket(api: Api, customer: str) -> str:
    body = {
        "customer_id": customer,
        "category": "complaint",
        "subject": "Broken zip",
        "description": "It arrived broken.",
        "channel": "email",
    }
    answer = api.post("/v1/tickets", body)
    assert answer.status == 201, answer.text
    return str(answer.json["id"])


def test_a_merge_moves_the_sources_tickets_and_unmerge_moves_them_back(tenant_a: Api) -> None:
    # Given a source with a ticket moved on to open
    survivor = tenant_a.create_customer(name="Cy")["id"]
    source = tenant_a.create_customer(name="Cy B")["id"]
    ticket = _open_ticket(tenant_a, source)
    assert tenant_a.post(f"/v1/tickets/{ticket}/transitions", {"to": "open"}).status == 200
    etag = tenant_a.get(f"/v1/customers/{survivor}").headers["etag"]

    # When the source is merged into the survivor
    merged = tenant_a.post(
        f"/v1/customers/{survivor}/merge", {"from": [source]}, headers={"If-Match": etag}
    )

    # Then the ticket names the survivor, is listed under it, and its events are on its timeline
    assert merged.status == 200, merged.text
    assert tenant_a.get(f"/v1/tickets/{ticket}").json["customer_id"] == survivor
    listed = tenant_a.get(f"/v1/tickets?customer_id={survivor}").json["items"]
    assert [(t["id"], t["status"]) for t in listed] == [(ticket, "open")]
    timeline = tenant_a.get(f"/v1/customers/{survivor}/interactions").json["items"]
    assert {item["ticket"]["ticket_id"] for item in timeline if item["ticket"]} == {ticket}

    # When it is unmerged
    unmerged = tenant_a.post(f"/v1/customers/{survivor}/unmerge", {"source": source})

    # Then the ticket is the source's again
    assert unmerged.status == 200, unmerged.text
    assert tenant_a.get(f"/v1/tickets/{ticket}").json["customer_id"] == source
    back = tenant_a.get(f"/v1/tickets?customer_id={source}").json["items"]
    assert [t["id"] for t in back] == [ticket]
    assert tenant_a.get(f"/v1/tickets?customer_id={survivor}").json["items"] == []
