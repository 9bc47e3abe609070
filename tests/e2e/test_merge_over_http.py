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
