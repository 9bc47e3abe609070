"""Customer tokens over HTTP against DynamoDB Local: a mobile backend's whole path, and
parallel purchases that never pass the daily cap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.api import Api


def test_a_mobile_backend_signs_up_mints_acts_and_loses_access_with_its_key(
    tenant_a: Api,
) -> None:
    # Given an app key, and a customer it signed up
    app, key_id = tenant_a.create_key("app")
    signed_up = app.post("/v1/customers", {"name": "Ann", "external_id": "app-ann"})
    assert signed_up.status == 201, signed_up.text
    other = tenant_a.create_customer(name="Bea")

    # When it exchanges the key for Ann's token and acts with it
    as_ann = app.as_customer(external_id="app-ann", ttl_seconds=600)
    ann_path = f"/v1/customers/{signed_up.json['id']}"
    bought = as_ann.post(
        f"{ann_path}/interactions",
        {"type": "purchase", "amount": "25", "currency": "EUR", "order_id": "m-1"},
    )

    # Then it reaches Ann, not Bea, nor the tenant's lists
    assert bought.status == 201 and bought.json["points"] == 25, bought.text
    assert as_ann.get(f"{ann_path}/points").json["balance"] == 25
    as_ann.get(f"/v1/customers/{other['id']}").problem(404)
    as_ann.get("/v1/customers").problem(403)
    # and once the app key is revoked, the token is refused as well
    assert tenant_a.delete(f"/v1/api-keys/{key_id}").status == 204
    as_ann.get(f"{ann_path}/points").problem(401)


def test_parallel_purchases_through_tokens_stop_at_the_daily_cap(tenant_a: Api) -> None:
    # Given a customer and eight tokens for her (as from several devices)
    customer = tenant_a.create_customer(name="Spender")["id"]
    app, _ = tenant_a.create_key("app")
    tokens = [app.as_customer(customer) for _ in range(8)]

    # When eight purchases of 1,000 are recorded at once (the daily cap is 5,000)
    def buy(i: int) -> int:
        answer = tokens[i].post(
            f"/v1/customers/{customer}/interactions",
            {"type": "purchase", "amount": "1000", "currency": "EUR", "order_id": f"par-{i}"},
        )
        if answer.status != 201:
            assert answer.problem(422)["cap"] == "max_daily_purchase_amount"
        return answer.status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(buy, range(8)))

    # Then exactly five are recorded, and the points are those five's
    assert statuses.count(201) == 5 and statuses.count(422) == 3, statuses
    assert tenant_a.get(f"/v1/customers/{customer}/points").json["balance"] == 5000
    timeline = tenant_a.get(f"/v1/customers/{customer}/interactions").json["items"]
    assert len(timeline) == 5
