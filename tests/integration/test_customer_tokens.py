"""Customer tokens: an app key acts for one customer at a time, and what it records is capped."""

from __future__ import annotations

import base64
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.dal import control
from chalicelib.dal import loyalty as loyalty_repository
from chalicelib.dal.loyalty import DailyPurchaseTally, LoyaltyWrite
from chalicelib.domain.clock import utc_now
from chalicelib.domain.customer_tokens import (
    CUSTOMER_TOKEN_PREFIX,
    CustomerTokenClaims,
    encode_token,
)
from chalicelib.domain.errors import PurchaseCapExceeded
from chalicelib.domain.tenancy import Role, TenantId, hash_secret, issue_key
from chalicelib.services.customer_tokens import signing_key
from tests.support.api import Api


def _purchase(amount: str, order_id: str) -> dict[str, Any]:
    return {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order_id}


@pytest.fixture
def app_key(tenant_a: Api) -> tuple[Api, str]:
    return tenant_a.create_key("app")


@pytest.fixture
def ann(tenant_a: Api) -> dict[str, Any]:
    return tenant_a.create_customer(name="Ann", external_id="ext-ann")


@pytest.fixture
def bea(tenant_a: Api) -> dict[str, Any]:
    return tenant_a.create_customer(name="Bea", external_id="ext-bea")


# Minting


def test_an_app_key_mints_a_token_that_reads_its_customer(
    app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    # Given an app key
    app, _ = app_key

    # When it mints a token for Ann by her external id
    before = utc_now()
    minted = app.post("/v1/customer-tokens", {"external_id": "ext-ann"})

    # Then the token names Ann, expires in the default 15 minutes and reads her profile
    assert minted.status == 201, minted.text
    body = minted.json
    assert body["customer_id"] == ann["id"]
    assert body["token"].startswith(CUSTOMER_TOKEN_PREFIX)
    assert "Ann" not in body["token"] and "ext-ann" not in body["token"]
    expires = before.fromisoformat(body["expires_at"])
    assert timedelta(seconds=899) <= expires - before <= timedelta(seconds=901)
    as_ann = app.as_key(body["token"])
    assert as_ann.get(f"/v1/customers/{ann['id']}").json["name"] == "Ann"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"customer_id": "cus_x", "external_id": "ext-ann"}, "body"),
        ({"external_id": "ext-ann", "ttl_seconds": 3601}, "ttl_seconds"),
        ({"external_id": "ext-ann", "ttl_seconds": 10}, "ttl_seconds"),
    ],
)
def test_minting_needs_exactly_one_customer_and_a_ttl_of_at_most_an_hour(
    app_key: tuple[Api, str], ann: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    app, _ = app_key

    problem = app.post("/v1/customer-tokens", body).problem(422)

    assert field in str(problem["errors"]) or "exactly one" in str(problem["errors"])


def test_a_token_lives_for_the_ttl_asked(app_key: tuple[Api, str], ann: dict[str, Any]) -> None:
    app, _ = app_key

    body = app.post("/v1/customer-tokens", {"customer_id": ann["id"], "ttl_seconds": 3600}).json

    left = utc_now().fromisoformat(body["expires_at"]) - utc_now()
    assert timedelta(minutes=59) < left <= timedelta(hours=1)


def test_tokens_are_minted_only_for_customers_of_the_key_s_tenant(
    app_key: tuple[Api, str], tenant_b: Api
) -> None:
    app, _ = app_key
    stranger = tenant_b.create_customer(name="Cid", external_id="ext-cid")

    app.post("/v1/customer-tokens", {"customer_id": stranger["id"]}).problem(404)
    app.post("/v1/customer-tokens", {"external_id": "ext-cid"}).problem(404)
    app.post("/v1/customer-tokens", {"customer_id": "cus_00000000000000000000000000"}).problem(404)


def test_only_app_keys_mint_tokens(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    app, _ = app_key
    as_ann = app.as_customer(ann["id"])

    tenant_a.post("/v1/customer-tokens", {"customer_id": ann["id"]}).problem(403)
    tenant_a.create_key("staff")[0].post("/v1/customer-tokens", {"customer_id": ann["id"]}).problem(
        403
    )
    as_ann.post("/v1/customer-tokens", {"customer_id": ann["id"]}).problem(403)


# Verification


def _claims(tenant: str, customer: str, key_id: str, secret: str, ttl: timedelta) -> Any:
    return CustomerTokenClaims(
        TenantId(tenant), customer, key_id, hash_secret(secret), utc_now() + ttl
    )


def test_an_expired_token_is_401(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    # Given a token of the app key for Ann, signed with the service's key, expired a second ago
    app, key_id = app_key
    assert app.key is not None and tenant_a.tenant_id is not None
    claims = _claims(tenant_a.tenant_id, ann["id"], key_id, app.key, timedelta(seconds=-1))
    expired = app.as_key(encode_token(claims, signing_key()))

    # Then it reads nothing, and says why
    problem = expired.get(f"/v1/customers/{ann['id']}").problem(401)
    assert "expired" in problem["detail"]


def test_a_tampered_token_is_401(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any], bea: dict[str, Any]
) -> None:
    # Given a real token for Ann
    app, key_id = app_key
    token = app.post("/v1/customer-tokens", {"customer_id": ann["id"]}).json["token"]
    payload, signature = token.removeprefix(CUSTOMER_TOKEN_PREFIX).split(".")

    # When its payload is changed to name Bea but keeps Ann's signature
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    forged = base64.urlsafe_b64encode(decoded.replace(ann["id"].encode(), bea["id"].encode()))
    as_bea = app.as_key(f"{CUSTOMER_TOKEN_PREFIX}{forged.rstrip(b'=').decode()}.{signature}")
    # or is signed with another key, or is cut short
    assert app.key is not None and tenant_a.tenant_id is not None
    claims = _claims(tenant_a.tenant_id, bea["id"], key_id, app.key, timedelta(minutes=5))
    wrong_key = app.as_key(encode_token(claims, b"not the service's key"))
    truncated = app.as_key(token[:-5])

    # Then none of them is accepted, and Bea is unchanged
    for forgery in (as_bea, wrong_key, truncated):
        forgery.get(f"/v1/customers/{bea['id']}").problem(401)
        forgery.patch(f"/v1/customers/{bea['id']}", {"name": "Hacked"}).problem(401)
    assert tenant_a.get(f"/v1/customers/{bea['id']}").json["name"] == "Bea"


def test_revoking_the_minting_key_ends_its_tokens(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    # Given a working token
    app, key_id = app_key
    as_ann = app.as_customer(ann["id"])
    assert as_ann.get(f"/v1/customers/{ann['id']}").status == 200

    # When the app key that minted it is revoked
    assert tenant_a.delete(f"/v1/api-keys/{key_id}").status == 204

    # Then the token is refused too
    as_ann.get(f"/v1/customers/{ann['id']}").problem(401)


def test_suspending_the_tenant_ends_its_tokens(
    platform: Api, tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    app, _ = app_key
    as_ann = app.as_customer(ann["id"])

    platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend")

    assert "suspended" in as_ann.get(f"/v1/customers/{ann['id']}").problem(403)["detail"]


def test_a_token_of_another_tenant_s_key_reaches_nothing_here(
    tenant_a: Api, tenant_b: Api, ann: dict[str, Any]
) -> None:
    # Given a token tenant B's app key minted for one of B's customers
    b_app, _ = tenant_b.create_key("app")
    b_customer = tenant_b.create_customer(name="Cid")
    as_cid = b_app.as_customer(b_customer["id"])

    # Then tenant A's customer is not found through it
    as_cid.get(f"/v1/customers/{ann['id']}").problem(404)


def test_no_api_key_has_the_customer_role(tenant_a: Api, ann: dict[str, Any]) -> None:
    # Given a key record stored with the customer role but no customer (none can be issued)
    tenant_a.post("/v1/api-keys", {"role": "customer"}).problem(422)
    assert tenant_a.tenant_id is not None
    owner = control.get_tenant(TenantId(tenant_a.tenant_id))
    issued = issue_key(Role.CUSTOMER, TenantId(tenant_a.tenant_id), utc_now(), owner=owner)
    control.insert_api_key(issued.record)

    # Then it is not scoped to anyone, so it may call nothing
    tenant_a.as_key(issued.secret).get(f"/v1/customers/{ann['id']}").problem(403)


# Scope


def test_a_token_reaches_its_customer_s_data(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    app, _ = app_key
    as_ann = app.as_customer(ann["id"])
    base = f"/v1/customers/{ann['id']}"

    # When the token records a purchase, changes the profile, redeems and opens a ticket
    assert as_ann.post(f"{base}/interactions", _purchase("40", "o-1")).status == 201
    patched = as_ann.patch(base, {"name": "Ann Lee"})
    redeemed = as_ann.post(f"{base}/points/redeem", {"points": 15, "reason": "coffee"})
    ticket = as_ann.post(
        "/v1/tickets",
        {
            "customer_id": ann["id"],
            "category": "complaint",
            "subject": "Cold coffee",
            "description": "It was cold",
            "channel": "app",
        },
    )

    # Then each is stored for Ann and reads back through the token
    assert patched.json["name"] == "Ann Lee"
    assert redeemed.status == 201, redeemed.text
    assert as_ann.get(f"{base}/points").json["balance"] == 25
    ledger = as_ann.get(f"{base}/points/transactions").json["items"]
    assert [e["type"] for e in ledger] == ["redeem", "earn"]
    timeline = as_ann.get(f"{base}/interactions").json["items"]
    assert [i["type"] for i in timeline] == ["ticket_opened", "purchase"]
    assert as_ann.get(f"{base}/segments").status == 200
    assert ticket.status == 201, ticket.text
    listed = as_ann.get(f"/v1/tickets?customer_id={ann['id']}").json["items"]
    assert [t["id"] for t in listed] == [ticket.json["id"]]
    assert as_ann.get(f"/v1/tickets/{ticket.json['id']}").json["customer_id"] == ann["id"]


def test_another_customer_is_404_through_a_token_and_stays_unchanged(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any], bea: dict[str, Any]
) -> None:
    # Given Bea with points and a ticket, and a token for Ann
    app, _ = app_key
    bea_path = f"/v1/customers/{bea['id']}"
    assert tenant_a.post(f"{bea_path}/interactions", _purchase("30", "o-b")).status == 201
    ticket = tenant_a.post(
        "/v1/tickets",
        {
            "customer_id": bea["id"],
            "category": "complaint",
            "subject": "Hours",
            "description": "When are you open?",
            "channel": "email",
        },
    ).json
    as_ann = app.as_customer(ann["id"])

    # When the token goes for Bea in every way a customer is named
    answers = [
        as_ann.get(bea_path),
        as_ann.patch(bea_path, {"name": "Hacked"}),
        as_ann.get(f"{bea_path}/points"),
        as_ann.get(f"{bea_path}/points/transactions"),
        as_ann.post(f"{bea_path}/points/redeem", {"points": 10, "reason": "theft"}),
        as_ann.get(f"{bea_path}/interactions"),
        as_ann.post(f"{bea_path}/interactions", _purchase("10", "o-x")),
        as_ann.get(f"{bea_path}/segments"),
        as_ann.get(f"/v1/tickets?customer_id={bea['id']}"),
        as_ann.get(f"/v1/tickets/{ticket['id']}"),
        as_ann.get(f"/v1/tickets/{ticket['id']}/comments"),
        as_ann.post(f"/v1/tickets/{ticket['id']}/comments", {"body": "hi"}),
        as_ann.post(f"/v1/tickets/{ticket['id']}/rating", {"score": 1}),
    ]

    # Then each is 404, as for a customer that does not exist, and nothing of Bea changed
    for answer in answers:
        answer.problem(404)
    assert tenant_a.get(bea_path).json["name"] == "Bea"
    assert tenant_a.get(f"{bea_path}/points").json["balance"] == 30
    timeline = tenant_a.get(f"{bea_path}/interactions").json["items"]
    assert [i["type"] for i in timeline] == ["ticket_opened", "purchase"]
    assert tenant_a.get(f"/v1/tickets/{ticket['id']}/comments").json["items"] == []
    opened_for_bea = as_ann.post(
        "/v1/tickets",
        {
            "customer_id": bea["id"],
            "category": "complaint",
            "subject": "x",
            "description": "y",
            "channel": "app",
        },
    ).problem(422)
    assert "no such customer" in str(opened_for_bea["errors"])


def test_tenant_wide_routes_are_403_for_a_token(
    app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    app, _ = app_key
    as_ann = app.as_customer(ann["id"])

    for path in (
        "/v1/customers",
        f"/v1/customers?external_id={ann['external_id']}",
        "/v1/tickets?status=new",
        "/v1/segments",
        "/v1/analytics/summary",
        "/v1/audit",
        "/v1/config",
    ):
        as_ann.get(path).problem(403)
    as_ann.post("/v1/customers", {"name": "Another"}).problem(403)
    as_ann.post("/v1/interactions:batch", {"items": [{"customer_id": ann["id"]}]}).problem(403)
    as_ann.post(f"/v1/customers/{ann['id']}/points/adjust", {"points": 5, "reason": "x"}).problem(
        403
    )
    as_ann.delete(f"/v1/customers/{ann['id']}").problem(403)


def test_a_bare_app_key_signs_customers_up_and_mints_but_reads_no_customer(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    app, _ = app_key

    signed_up = app.post("/v1/customers", {"name": "Dora", "external_id": "ext-dora"})

    assert signed_up.status == 201, signed_up.text
    assert tenant_a.get(f"/v1/customers/{signed_up.json['id']}").json["name"] == "Dora"
    app.get(f"/v1/customers/{ann['id']}").problem(403)
    app.get("/v1/customers?external_id=ext-ann").problem(403)
    app.post(f"/v1/customers/{ann['id']}/interactions", _purchase("10", "o-1")).problem(403)
    app.get(f"/v1/customers/{ann['id']}/points").problem(403)


def test_app_credentials_set_no_tags_or_attributes(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    # Given an app key and a token for Ann
    app, _ = app_key
    as_ann = app.as_customer(ann["id"])
    path = f"/v1/customers/{ann['id']}"

    # When they try to set the fields segments and offers are built on
    sign_up = app.post("/v1/customers", {"name": "Eve", "tags": ["vip"]}).problem(403)
    tagged = as_ann.patch(path, {"tags": ["vip"]}).problem(403)
    attributed = as_ann.patch(path, {"name": "Ann L", "attributes": {"tier": "gold"}}).problem(403)

    # Then each is refused, naming the field, and nothing changed
    assert "tags" in sign_up["detail"] and "tags" in tagged["detail"]
    assert "attributes" in attributed["detail"]
    stored = tenant_a.get(path).json
    assert (stored["name"], stored["tags"], stored["attributes"]) == ("Ann", [], {})
    assert tenant_a.get("/v1/customers?tag=vip").json["items"] == []


def test_the_audit_trail_names_the_minting_key_and_the_customer(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    app, key_id = app_key
    as_ann = app.as_customer(ann["id"])

    as_ann.get(f"/v1/customers/{ann['id']}")

    entries = tenant_a.get(f"/v1/audit?actor={key_id}").json["items"]
    reads = [e for e in entries if e["action"] == "get_customer"]
    assert [(e["role"], e["customer_ids"]) for e in reads] == [("customer", [ann["id"]])]
    minted = [e for e in entries if e["action"] == "mint_customer_token"]
    assert [(e["role"], e["customer_ids"]) for e in minted] == [("app", [ann["id"]])]


# Caps on purchases recorded with app credentials


def test_a_purchase_over_the_per_purchase_cap_is_422_and_records_nothing(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    app, _ = app_key
    as_ann = app.as_customer(ann["id"])
    base = f"/v1/customers/{ann['id']}"

    problem = as_ann.post(f"{base}/interactions", _purchase("1000.01", "o-big")).problem(422)

    assert (problem["cap"], problem["limit"]) == ("max_purchase_amount", "1000")
    assert problem["type"].endswith("purchase-cap-exceeded")
    assert tenant_a.get(f"{base}/interactions").json["items"] == []
    assert tenant_a.get(f"{base}/points").json["balance"] == 0


def test_the_daily_cap_sums_a_customer_s_purchases_and_merchant_keys_are_not_capped(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any], bea: dict[str, Any]
) -> None:
    # Given 4,500 of Ann's purchases recorded today with app credentials (cap 5,000)
    app, _ = app_key
    as_ann = app.as_customer(ann["id"])
    base = f"/v1/customers/{ann['id']}"
    for number, amount in enumerate(["1000", "1000", "1000", "1000", "500"]):
        assert as_ann.post(f"{base}/interactions", _purchase(amount, f"o-{number}")).status == 201

    # When one more of 600 is recorded through the token
    over = as_ann.post(f"{base}/interactions", _purchase("600", "o-over"))

    # Then it is refused whole, while 500 still fits, and a repeat of a recorded order
    # answers the first purchase
    problem = over.problem(422)
    assert (problem["cap"], problem["limit"]) == ("max_daily_purchase_amount", "5000")
    assert as_ann.post(f"{base}/interactions", _purchase("500", "o-last")).status == 201
    assert as_ann.post(f"{base}/interactions", _purchase("1", "o-more")).status == 422
    repeat = as_ann.post(f"{base}/interactions", _purchase("1000", "o-0"))
    assert repeat.status == 201 and repeat.json["points"] == 1000
    assert tenant_a.get(f"{base}/points").json["balance"] == 5000
    # and the cap is per customer, and a merchant key records past it
    as_bea = app.as_customer(bea["id"])
    assert (
        as_bea.post(f"/v1/customers/{bea['id']}/interactions", _purchase("900", "o-b")).status
        == 201
    )
    staff, _ = tenant_a.create_key("staff")
    assert staff.post(f"{base}/interactions", _purchase("2000", "o-staff")).status == 201


def test_the_caps_come_from_the_tenant_configuration(
    tenant_a: Api, app_key: tuple[Api, str], ann: dict[str, Any]
) -> None:
    # Given the defaults, documented in /v1/config
    current = tenant_a.get("/v1/config")
    config = current.json["config"]
    assert config["app_purchases"] == {
        "max_purchase_amount": "1000",
        "max_daily_purchase_amount": "5000",
    }

    # When an admin lowers them
    config["app_purchases"] = {"max_purchase_amount": "50", "max_daily_purchase_amount": "80"}
    put = tenant_a.request(
        "PUT", "/v1/config", config, headers={"If-Match": current.headers["etag"]}
    )
    assert put.status == 200, put.text

    # Then purchases through a token are held to the new caps
    app, _ = app_key
    as_ann = app.as_customer(ann["id"])
    base = f"/v1/customers/{ann['id']}/interactions"
    assert as_ann.post(base, _purchase("51", "o-1")).problem(422)["cap"] == "max_purchase_amount"
    assert as_ann.post(base, _purchase("50", "o-2")).status == 201
    daily = as_ann.post(base, _purchase("31", "o-3")).problem(422)
    assert daily["cap"] == "max_daily_purchase_amount"


def test_the_daily_tally_is_a_conditioned_add_that_never_passes_the_cap(
    tenant_a: Api, ann: dict[str, Any]
) -> None:
    """The cap holds under concurrency because nothing is read before the write: each
    transaction's condition is evaluated by DynamoDB against the committed total. Writes
    staged together (as by parallel requests) therefore still stop at the cap."""
    # Given three purchases of 2,000 staged for the same day against a cap of 5,000
    assert tenant_a.tenant_id is not None
    tenant = TenantId(tenant_a.tenant_id)
    day = utc_now().date()
    staged = [
        LoyaltyWrite(
            customer_id=ann["id"],
            purchase_tally=DailyPurchaseTally(day, Decimal("2000.5"), Decimal(5000)),
        )
        for _ in range(3)
    ]

    # When they are committed
    outcomes = []
    for write in staged:
        try:
            loyalty_repository.commit(tenant, write)
            outcomes.append("committed")
        except PurchaseCapExceeded as refused:
            outcomes.append(refused.cap)

    # Then two fit and the third is refused, and the stored total is exact
    assert outcomes == ["committed", "committed", "max_daily_purchase_amount"]
    assert loyalty_repository.purchase_tally(tenant, ann["id"], day) == Decimal("4001")
    assert loyalty_repository.purchase_tally(tenant, ann["id"], day - timedelta(days=1)) == 0
