"""What a purchase's multipliers and a customer's offer list read (moto): only offers not
ended, through gsi3, every page; never a cap that drops the newest offers. Offers stored
before gsi3 are read from their partition until the tenant is back-filled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.dal import keys
from chalicelib.dal import offers as repository
from chalicelib.dal.connection import dynamodb_client
from chalicelib.dal.rewards_models import OfferItem, OffersIndexedItem
from chalicelib.domain.clock import utc_now
from chalicelib.domain.ids import new_offer_id
from chalicelib.domain.offers import Offer, OfferType
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services import offers
from tests.support.api import Api

OLD_CAP = 1000


@pytest.fixture
def offers_read(tenant_a: Api) -> Iterator[list[str]]:
    """The sort keys of the offer items every Query answers from now on (table or index)."""
    read: list[str] = []

    def record(parsed: dict[str, Any], **_: Any) -> None:
        read.extend(
            item["sk"]["S"]
            for item in parsed.get("Items", [])
            if item["sk"]["S"].startswith("OFFER#")
        )

    client = dynamodb_client()
    client.meta.events.register("after-call.dynamodb.Query", record)
    yield read
    client.meta.events.unregister("after-call.dynamodb.Query", record)


def _tenant(api: Api) -> TenantId:
    assert api.tenant_id is not None
    return tenant_id(api.tenant_id)


def _offer(**fields: Any) -> Offer:
    """A stored-shape 10 % discount offer, unless `fields` say otherwise."""
    now = utc_now()
    values: dict[str, Any] = {
        "id": new_offer_id(),
        "name": "Ten off",
        "description": None,
        "type": OfferType.DISCOUNT,
        "points": None,
        "multiplier": None,
        "percent": Decimal(10),
        "amount": None,
        "currency": None,
        "gift": None,
        "coupon_days": 30,
        "valid_from": None,
        "valid_until": None,
        "active": True,
        "created_at": now,
        "updated_at": now,
    }
    return Offer(**{**values, **fields})


def _multiplier(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "Boost", "type": "bonus_points", "multiplier": "2", **fields}
    answer = api.post("/v1/offers", body)
    assert answer.status == 201, answer.text
    return dict(answer.json)


def _buy(api: Api, customer: str, order_id: str, at: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "purchase",
        "amount": "100",
        "currency": "EUR",
        "order_id": order_id,
    }
    if at is not None:
        body["occurred_at"] = at.isoformat()
    answer = api.post(f"/v1/customers/{customer}/interactions", body)
    assert answer.status == 201, answer.text
    return dict(answer.json)


def _listed(api: Api, customer: str) -> list[str]:
    answer = api.get(f"/v1/customers/{customer}/offers")
    assert answer.status == 200, answer.text
    return [o["id"] for o in answer.json["items"]]


def test_past_the_old_cap_the_newest_multiplier_applies_and_ended_offers_are_not_read(
    tenant_a: Api, offers_read: list[str]
) -> None:
    # Given a tenant with more offers than the old cap of one read, one of them a
    # multiplier patched to have ended, and then the newest offer, a x3 multiplier
    tenant = _tenant(tenant_a)
    ended = _multiplier(tenant_a, multiplier="5")
    patched = tenant_a.patch(
        f"/v1/offers/{ended['id']}", {"valid_until": (utc_now() - timedelta(days=3)).isoformat()}
    )
    assert patched.status == 200, patched.text
    for _ in range(OLD_CAP):
        repository.insert_offer(tenant, _offer())
    newest = _multiplier(tenant_a, multiplier="3")
    customer = str(tenant_a.create_customer(name="Ann")["id"])
    offers_read.clear()

    # When the customer buys for 100 points and lists its offers
    purchase = _buy(tenant_a, customer, "o-1")
    listed = _listed(tenant_a, customer)

    # Then the newest multiplier applied and is listed
    assert purchase["points"] == 300
    assert listed == [newest["id"]]
    # and only it was read: not the ended multiplier, nor the offers that go by coupon
    assert set(offers_read) == {f"OFFER#{newest['id']}"}


def test_every_page_of_offers_not_ended_is_read(
    tenant_a: Api, offers_read: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five multipliers running, the newest the highest, read one page of two at a time
    created = [_multiplier(tenant_a, multiplier=str(2 + n)) for n in range(5)]
    customer = str(tenant_a.create_customer(name="Ann")["id"])
    query = OfferItem.multipliers_by_end.query

    def small_pages(*args: Any, **kwargs: Any) -> Any:
        return query(*args, **{**kwargs, "page_size": 2})

    monkeypatch.setattr(OfferItem.multipliers_by_end, "query", small_pages)
    offers_read.clear()

    # When the customer buys and lists its offers
    purchase = _buy(tenant_a, customer, "o-1")
    listed = _listed(tenant_a, customer)

    # Then the last page's x6 applied, and all five are listed
    assert purchase["points"] == 600
    assert listed == [o["id"] for o in created]
    assert len(offers_read) == 2 * 5


def test_a_purchase_dated_inside_an_ended_multiplier_still_earns_it(tenant_a: Api) -> None:
    # Given a x2 multiplier that ran from ten days ago until three days ago
    now = utc_now()
    offer = _multiplier(
        tenant_a,
        valid_from=(now - timedelta(days=10)).isoformat(),
        valid_until=(now - timedelta(days=3)).isoformat(),
    )
    customer = str(tenant_a.create_customer(name="Ann")["id"])

    # When a purchase of five days ago and one of now are recorded
    then = _buy(tenant_a, customer, "o-1", now - timedelta(days=5))
    today = _buy(tenant_a, customer, "o-2")

    # Then the earlier one earned the multiplier, today's did not, nor is it listed
    assert (then["points"], today["points"]) == (200, 100)
    assert offer["id"] not in _listed(tenant_a, customer)


def test_offers_stored_before_the_index_apply_until_back_filled_and_after(
    tenant_a: Api, offers_read: list[str]
) -> None:
    # Given a multiplier stored before gsi3 (no index keys), in a tenant created before it
    # (not marked indexed)
    tenant = _tenant(tenant_a)
    _unmark(tenant)
    stored = _offer(
        type=OfferType.BONUS_POINTS,
        multiplier=Decimal(2),
        percent=None,
        coupon_days=None,
        name="Old",
    )
    repository.insert_offer(tenant, stored)
    item = OfferItem.get(*_keys(tenant, stored.id))
    item.update([OfferItem.gsi3pk.remove(), OfferItem.gsi3sk.remove()])
    newer = _multiplier(tenant_a, multiplier="1.5")
    customer = str(tenant_a.create_customer(name="Ann")["id"])

    # When the customer buys before the back-fill, then every tenant is back-filled and the
    # customer buys again
    before = _buy(tenant_a, customer, "o-1")
    updated = offers.index_stored_offers()[tenant]
    again = repository.index_stored_offers(tenant)
    offers_read.clear()
    after = _buy(tenant_a, customer, "o-2")
    read_by_purchase = list(offers_read)
    listed = _listed(tenant_a, customer)

    # Then both purchases earned the stored x2, the back-fill indexed it once
    assert (before["points"], after["points"]) == (200, 200)
    assert (updated, again) == (1, 0)
    assert sorted(listed) == sorted([stored.id, newer["id"]])
    # and after it, the purchase read the index (two multipliers), not the partition
    assert sorted(read_by_purchase) == sorted(f"OFFER#{o}" for o in listed)
    assert OfferItem.get(*_keys(tenant, stored.id)).version == item.version


def test_a_new_tenant_is_marked_indexed_and_reads_only_the_index(
    tenant_a: Api, offers_read: list[str]
) -> None:
    # Given a tenant created with the index (its creation marked it), a multiplier and a
    # discount
    tenant = _tenant(tenant_a)
    boost = _multiplier(tenant_a)
    repository.insert_offer(tenant, _offer())
    customer = str(tenant_a.create_customer(name="Ann")["id"])

    # When the customer's offers are listed
    listed = _listed(tenant_a, customer)

    # Then the marker is there and the list read the multiplier alone, through the index
    assert _marked(tenant)
    assert listed == [boost["id"]]
    assert offers_read == [f"OFFER#{boost['id']}"]


def test_reading_an_unmarked_tenant_reads_its_partition_and_writes_nothing(
    tenant_a: Api, offers_read: list[str]
) -> None:
    # Given a tenant created before the index (no marker) whose offers all carry their keys
    tenant = _tenant(tenant_a)
    boost = _multiplier(tenant_a)
    discount = repository.insert_offer(tenant, _offer())
    customer = str(tenant_a.create_customer(name="Ann")["id"])
    _unmark(tenant)

    # When its offers are listed twice
    first = _listed(tenant_a, customer)
    read_first = list(offers_read)
    offers_read.clear()
    second = _listed(tenant_a, customer)

    # Then both reads answered from the whole partition (index and partition: the marker
    # missing), and neither marked the tenant: only the back-fill does
    assert first == second == [boost["id"]]
    boost_sk, discount_sk = f"OFFER#{boost['id']}", f"OFFER#{discount.id}"
    assert sorted(read_first) == sorted(offers_read) == sorted([boost_sk, boost_sk, discount_sk])
    assert not _marked(tenant)


def _marked(tenant: TenantId) -> bool:
    return (
        OffersIndexedItem.count(
            keys.offers_pk(tenant), OffersIndexedItem.sk == keys.OFFERS_INDEXED_SK
        )
        == 1
    )


def _unmark(tenant: TenantId) -> None:
    """As a tenant created before the deploy that added gsi3 is: no offers index marker."""
    OffersIndexedItem(keys.offers_pk(tenant), keys.OFFERS_INDEXED_SK).delete()


def _keys(tenant: TenantId, offer_id: str) -> tuple[str, str]:
    return keys.offers_pk(tenant), keys.offer_sk(offer_id)
