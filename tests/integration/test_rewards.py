"""The rewards catalogue through the API (moto): define, list, patch, redeem, roles."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import DomainError, OutOfStock
from chalicelib.domain.tenancy import tenant_id
from chalicelib.services import loyalty, rewards
from tests.support.api import Api

ACTOR = "key_test"


def reward_body(**fields: Any) -> dict[str, Any]:
    """A reward definition: 100 points, 10 in stock, unless `fields` say otherwise."""
    return {"name": "Coffee mug", "points_cost": 100, "stock": 10, **fields}


def _create_reward(api: Api, **fields: Any) -> dict[str, Any]:
    answer = api.post("/v1/rewards", reward_body(**fields))
    assert answer.status == 201, answer.text
    return dict(answer.json)


def _customer_with_points(api: Api, points: int) -> str:
    customer = str(api.create_customer(name="Ann")["id"])
    if points:
        answer = api.post(
            f"/v1/customers/{customer}/points/adjust", {"points": points, "reason": "welcome"}
        )
        assert answer.status == 201, answer.text
    return customer


def _redeem(api: Api, customer: str, reward: str, **kwargs: Any) -> Any:
    return api.post(f"/v1/customers/{customer}/rewards/{reward}/redeem", **kwargs)


def _balance(api: Api, customer: str) -> int:
    return int(api.get(f"/v1/customers/{customer}/points").json["balance"])


def _reward(api: Api, reward: str) -> dict[str, Any]:
    answer = api.get(f"/v1/rewards/{reward}")
    assert answer.status == 200, answer.text
    return dict(answer.json)


def test_a_reward_is_created_read_listed_and_patched_with_its_etag(tenant_a: Api) -> None:
    # Given a reward
    created = tenant_a.post("/v1/rewards", reward_body(per_customer_limit=2))
    assert created.status == 201, created.text
    reward = created.json
    assert created.headers["location"] == f"/v1/rewards/{reward['id']}"
    assert (reward["stock"], reward["per_customer_limit"], reward["active"]) == (10, 2, True)

    # When it is read, listed and patched with the ETag read
    read = tenant_a.get(f"/v1/rewards/{reward['id']}")
    listed = tenant_a.get("/v1/rewards").json["items"]
    patched = tenant_a.patch(
        f"/v1/rewards/{reward['id']}",
        {"points_cost": 150, "stock": None},
        headers={"If-Match": read.headers["etag"]},
    )

    # Then the patch took, stock is now unlimited, and the old ETag is stale
    assert [item["id"] for item in listed] == [reward["id"]]
    assert patched.status == 200, patched.text
    assert (patched.json["points_cost"], patched.json["stock"]) == (150, None)
    assert patched.headers["etag"] != read.headers["etag"]
    stale = tenant_a.patch(
        f"/v1/rewards/{reward['id']}", {"name": "Mug"}, headers={"If-Match": read.headers["etag"]}
    )
    stale.problem(412)
    assert _reward(tenant_a, reward["id"])["name"] == "Coffee mug"


def test_bad_reward_definitions_are_refused_by_field(tenant_a: Api) -> None:
    # Given an ordered validity window, an unknown tier and a null name
    now = utc_now()
    window = {"valid_from": now.isoformat(), "valid_until": (now - timedelta(days=1)).isoformat()}

    # When they are sent
    backwards = tenant_a.post("/v1/rewards", reward_body(**window)).problem(422)
    unknown_tier = tenant_a.post("/v1/rewards", reward_body(tier_required="diamond")).problem(422)
    free = tenant_a.post("/v1/rewards", reward_body(points_cost=0)).problem(422)
    reward = _create_reward(tenant_a)
    nulled = tenant_a.patch(f"/v1/rewards/{reward['id']}", {"name": None}).problem(422)

    # Then each names the field, and nothing was written
    assert [e["field"] for e in backwards["errors"]] == ["valid_until"]
    assert [e["field"] for e in unknown_tier["errors"]] == ["tier_required"]
    assert [e["field"] for e in free["errors"]] == ["points_cost"]
    assert [e["field"] for e in nulled["errors"]] == ["name"]
    assert [r["id"] for r in tenant_a.get("/v1/rewards").json["items"]] == [reward["id"]]


def test_unknown_rewards_are_404(tenant_a: Api, tenant_b: Api) -> None:
    # Given a reward of tenant B
    other = _create_reward(tenant_b)
    customer = _customer_with_points(tenant_a, 500)

    # When tenant A names it, or an id that is no reward's
    for path in (f"/v1/rewards/{other['id']}", "/v1/rewards/rwd_nope"):
        tenant_a.get(path).problem(404)
    _redeem(tenant_a, customer, other["id"]).problem(404)

    # Then tenant A's customer kept its points and B's reward its stock
    assert _balance(tenant_a, customer) == 500
    assert _reward(tenant_b, other["id"])["stock"] == 10


def test_redeeming_debits_points_and_stock_and_records_the_redemption(tenant_a: Api) -> None:
    # Given a customer with 250 points and a reward of 100
    customer = _customer_with_points(tenant_a, 250)
    reward = _create_reward(tenant_a)

    # When the customer redeems it
    answer = _redeem(tenant_a, customer, reward["id"])

    # Then points and stock went down together, the ledger says why, and it is listed
    assert answer.status == 201, answer.text
    redemption = answer.json
    assert (redemption["points"], redemption["balance_after"]) == (100, 150)
    assert _balance(tenant_a, customer) == 150
    stored = _reward(tenant_a, reward["id"])
    assert (stored["stock"], stored["redeemed_count"]) == (9, 1)
    [entry, _] = tenant_a.get(f"/v1/customers/{customer}/points/transactions").json["items"]
    assert (entry["type"], entry["points"], entry["reference"]) == ("reward", -100, reward["id"])
    listed = tenant_a.get(f"/v1/customers/{customer}/rewards").json["items"]
    assert [r["id"] for r in listed] == [redemption["id"]]


def test_a_redemption_that_cannot_be_made_writes_nothing(tenant_a: Api) -> None:
    # Given a poor customer, a rich one, and rewards that are spent, limited, tiered,
    # inactive or not yet valid
    poor = _customer_with_points(tenant_a, 50)
    rich = _customer_with_points(tenant_a, 1000)
    spent = _create_reward(tenant_a, stock=0)
    once = _create_reward(tenant_a, per_customer_limit=1)
    gold = _create_reward(tenant_a, tier_required="gold")
    inactive = _create_reward(tenant_a, active=False)
    later = _create_reward(tenant_a, valid_from=(utc_now() + timedelta(days=1)).isoformat())
    assert _redeem(tenant_a, rich, once["id"]).status == 201

    # When each is redeemed
    short = _redeem(tenant_a, poor, once["id"]).problem(409)
    out = _redeem(tenant_a, rich, spent["id"]).problem(409)
    limited = _redeem(tenant_a, rich, once["id"]).problem(409)
    tier = _redeem(tenant_a, rich, gold["id"]).problem(409)
    off = _redeem(tenant_a, rich, inactive["id"]).problem(409)
    early = _redeem(tenant_a, rich, later["id"]).problem(409)

    # Then each says why, and only the first redemption moved points or stock
    assert short["type"].endswith("insufficient-points")
    assert out["type"].endswith("out-of-stock")
    assert limited["type"].endswith("redemption-limit-reached")
    assert [p["reason"] for p in (tier, off, early)] == [
        "tier_too_low",
        "inactive",
        "not_yet_valid",
    ]
    assert (_balance(tenant_a, poor), _balance(tenant_a, rich)) == (50, 900)
    assert _reward(tenant_a, once["id"])["stock"] == 9
    assert _reward(tenant_a, spent["id"])["stock"] == 0


def test_a_repeated_redemption_with_its_idempotency_key_debits_once(tenant_a: Api) -> None:
    # Given a customer and a reward
    customer = _customer_with_points(tenant_a, 300)
    reward = _create_reward(tenant_a)

    # When the redemption is sent twice with one Idempotency-Key
    first = _redeem(tenant_a, customer, reward["id"], headers={"Idempotency-Key": "rw-1"})
    again = _redeem(tenant_a, customer, reward["id"], headers={"Idempotency-Key": "rw-1"})

    # Then both answer the same redemption, made once
    assert first.status == again.status == 201
    assert first.json == again.json
    assert _balance(tenant_a, customer) == 200
    assert _reward(tenant_a, reward["id"])["stock"] == 9


def test_fifty_parallel_redemptions_of_the_last_unit_sell_it_once(tenant_a: Api) -> None:
    # Given the last unit of a reward and fifty customers who can each afford it
    tenant = tenant_id(tenant_a.tenant_id)
    reward = _create_reward(tenant_a, stock=1)
    customers = [_customer_with_points(tenant_a, 100) for _ in range(50)]

    def attempt(customer: str) -> str:
        try:
            rewards.redeem_reward(tenant, customer, reward["id"], ACTOR, None)
        except DomainError as error:
            return type(error).__name__
        return "redeemed"

    # When all fifty redeem it at once
    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(attempt, customers))

    # Then exactly one got it, the stock is 0, and only that customer paid
    assert outcomes.count("redeemed") == 1
    assert set(outcomes) == {"redeemed", OutOfStock.__name__}
    assert (
        _reward(tenant_a, reward["id"])["stock"],
        _reward(tenant_a, reward["id"])["redeemed_count"],
    ) == (0, 1)
    balances = [loyalty.points_summary(tenant, c).balance for c in customers]
    assert sorted(balances) == [0] + [100] * 49
    assert balances.index(0) == outcomes.index("redeemed")


def test_a_customer_token_lists_and_redeems_for_its_own_customer_only(
    tenant_a: Api, customer_token: Callable[[Api, str], Api]
) -> None:
    # Given a silver-tier-only reward, an open one, and two customers
    mine = _customer_with_points(tenant_a, 400)
    theirs = _customer_with_points(tenant_a, 400)
    open_reward = _create_reward(tenant_a)
    _create_reward(tenant_a, tier_required="silver")
    _create_reward(tenant_a, stock=0)
    token = customer_token(tenant_a, mine)

    # When the token lists what its customer may redeem, redeems, and reaches further
    available = token.get(f"/v1/customers/{mine}/rewards/available")
    redeemed = _redeem(token, mine, open_reward["id"])
    _redeem(token, theirs, open_reward["id"]).problem(404)
    token.get(f"/v1/customers/{theirs}/rewards").problem(404)
    token.post("/v1/rewards", reward_body()).problem(403)
    token.get("/v1/rewards").problem(403)

    # Then it saw only the open reward, and only its own customer paid
    assert available.status == 200, available.text
    assert [r["id"] for r in available.json["items"]] == [open_reward["id"]]
    assert redeemed.status == 201, redeemed.text
    assert (_balance(tenant_a, mine), _balance(tenant_a, theirs)) == (300, 400)
    assert redeemed.json["actor"] != ACTOR


def test_readonly_keys_read_the_catalogue_but_do_not_change_it(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api]
) -> None:
    # Given a readonly key and a reward
    reader = key_with_role(tenant_a, "readonly")
    reward = _create_reward(tenant_a)

    # When it reads and tries to write
    listed = reader.get("/v1/rewards")
    reader.post("/v1/rewards", reward_body()).problem(403)
    reader.patch(f"/v1/rewards/{reward['id']}", {"name": "x"}).problem(403)

    # Then it read the catalogue, which is unchanged
    assert [r["id"] for r in listed.json["items"]] == [reward["id"]]
    assert _reward(tenant_a, reward["id"])["name"] == "Coffee mug"


def test_the_export_holds_the_customers_redemptions_and_coupons(tenant_a: Api) -> None:
    # Given a customer who redeemed a reward and holds a coupon
    customer = _customer_with_points(tenant_a, 200)
    reward = _create_reward(tenant_a)
    redemption = _redeem(tenant_a, customer, reward["id"]).json
    offer = tenant_a.post("/v1/offers", {"name": "Gift", "type": "gift", "gift": "Tote bag"})
    coupon = tenant_a.post(f"/v1/offers/{offer.json['id']}/coupons", {"customer_id": customer})

    # When the customer's data is exported
    export = tenant_a.get(f"/v1/customers/{customer}/export")

    # Then both are in it
    assert export.status == 200, export.text
    assert [r["id"] for r in export.json["reward_redemptions"]] == [redemption["id"]]
    assert [c["code"] for c in export.json["coupons"]] == [coupon.json["code"]]


def test_a_redemption_and_a_coupon_show_in_the_audit_trail(tenant_a: Api, streams: Any) -> None:
    from chalicelib.dal import audit as trail
    from chalicelib.domain.audit import EntryKind

    # Given a redemption and a redeemed coupon
    customer = _customer_with_points(tenant_a, 200)
    reward = _create_reward(tenant_a)
    redemption = _redeem(tenant_a, customer, reward["id"]).json
    offer = tenant_a.post("/v1/offers", {"name": "Gift", "type": "gift", "gift": "Tote bag"})
    code = tenant_a.post(f"/v1/offers/{offer.json['id']}/coupons", {"customer_id": customer})
    tenant_a.post(f"/v1/coupons/{code.json['code']}/redeem", {"order_id": "o-1"})

    # When the streams have run
    streams.drain()

    # Then the changes are recorded by resource, naming the customer where there is one
    now = utc_now()
    tenant = tenant_id(tenant_a.tenant_id)
    entries = trail.entries_between(tenant, now - timedelta(hours=1), now).values()
    changes = {
        (e.resource_type, e.resource_ids, e.customer_ids, e.action)
        for e in entries
        if e.kind is EntryKind.CHANGE
    }
    assert ("reward_redemption", (redemption["id"],), (customer,), "redeem_reward") in changes
    assert ("reward", (reward["id"],), (), "redeem_reward") in changes
    assert ("coupon", (code.json["code"],), (customer,), "redeem_coupon") in changes
    assert ("offer", (offer.json["id"],), (), "create_offer") in changes
