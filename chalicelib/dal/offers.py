"""Offers and coupons. See docs/data-model.md ("Rewards catalogue, offers and coupons")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import page_of
from chalicelib.dal.loyalty import ConditionedPart
from chalicelib.dal.rewards_models import (
    CouponItem,
    OfferIndexView,
    OfferItem,
    OffersIndexedItem,
)
from chalicelib.dal.transactions import LabelledTransaction
from chalicelib.domain.clock import sortable_timestamp, utc_now
from chalicelib.domain.errors import PreconditionFailed
from chalicelib.domain.offers import Coupon, Offer, OfferType
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId

COUPON_PART = "coupon"
_DECIMALS = ("multiplier", "percent", "amount")
_OPTIONAL = ("description", "coupon_days", "valid_from", "valid_until")


class CodeTaken(Exception):
    """The coupon code drawn is already a coupon of the tenant."""


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _index_keys(tenant: TenantId, offer: Offer) -> tuple[str, str] | None:
    """A multiplier offer's gsi3 keys (None for offers that go by coupon: not listed)."""
    if offer.multiplier is None:
        return None
    end = sortable_timestamp(offer.valid_until) if offer.valid_until else None
    return keys.multiplier_offers_pk(tenant), keys.offer_end_sk(end, offer.id)


def _offer_item(tenant: TenantId, offer: Offer) -> OfferItem:
    gsi3pk, gsi3sk = _index_keys(tenant, offer) or (None, None)
    return OfferItem(
        pk=keys.offers_pk(tenant),
        sk=keys.offer_sk(offer.id),
        gsi3pk=gsi3pk,
        gsi3sk=gsi3sk,
        tenant_id=tenant,
        offer_id=offer.id,
        name=offer.name,
        description=offer.description,
        type=offer.type.value,
        points=offer.points,
        multiplier=_text(offer.multiplier),
        percent=_text(offer.percent),
        amount=_text(offer.amount),
        currency=offer.currency,
        gift=offer.gift,
        coupon_days=offer.coupon_days,
        valid_from=offer.valid_from,
        valid_until=offer.valid_until,
        active=offer.active,
        created_at=offer.created_at,
        updated_at=offer.updated_at,
    )


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _to_offer(item: OfferItem) -> Offer:
    return Offer(
        id=item.offer_id,
        name=item.name,
        description=item.description,
        type=OfferType(item.type),
        points=None if item.points is None else int(item.points),
        multiplier=_decimal(item.multiplier),
        percent=_decimal(item.percent),
        amount=_decimal(item.amount),
        currency=item.currency,
        gift=item.gift,
        coupon_days=None if item.coupon_days is None else int(item.coupon_days),
        valid_from=item.valid_from,
        valid_until=item.valid_until,
        active=bool(item.active),
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
    )


def _coupon_item(tenant: TenantId, coupon: Coupon) -> CouponItem:
    return CouponItem(
        pk=keys.coupon_pk(tenant, coupon.code),
        sk=keys.COUPON_SK,
        gsi1pk=keys.customer_coupons_pk(tenant, coupon.customer_id),
        gsi1sk=f"{coupon.issued_at.isoformat()}#{coupon.code}",
        tenant_id=tenant,
        code=coupon.code,
        offer_id=coupon.offer_id,
        offer_type=coupon.offer_type.value,
        customer_id=coupon.customer_id,
        campaign_id=coupon.campaign_id,
        issued_at=coupon.issued_at,
        expires_at=coupon.expires_at,
    )


def _to_coupon(item: CouponItem) -> Coupon:
    return Coupon(
        code=item.code,
        offer_id=item.offer_id,
        offer_type=OfferType(item.offer_type),
        customer_id=item.customer_id,
        campaign_id=item.campaign_id,
        issued_at=item.issued_at,
        expires_at=item.expires_at,
        redeemed_at=item.redeemed_at,
        order_id=item.order_id,
    )


def insert_offer(tenant: TenantId, offer: Offer) -> Offer:
    bound_settings()
    item = _offer_item(tenant, offer)
    item.save(condition=OfferItem.pk.does_not_exist())
    return _to_offer(item)


def get_offer(tenant: TenantId, offer_id: str) -> Offer | None:
    bound_settings()
    try:
        item = OfferItem.get(keys.offers_pk(tenant), keys.offer_sk(offer_id), consistent_read=True)
    except OfferItem.DoesNotExist:
        return None
    return _to_offer(item)


def list_offers(tenant: TenantId, page: PageRequest) -> Page[Offer]:
    """Oldest first: one Query per page."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        "offers",
        page,
        lambda start, limit: OfferItem.query(
            keys.offers_pk(tenant),
            OfferItem.sk.startswith(keys.OFFER_PREFIX),
            consistent_read=True,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
    )
    return Page([_to_offer(item) for item in items], cursor)


def get_offers(tenant: TenantId, offer_ids: Iterable[str]) -> list[Offer]:
    """The offers of these ids that exist, by id: BatchGetItem (100 keys a call)."""
    bound_settings()
    wanted = [(keys.offers_pk(tenant), keys.offer_sk(offer_id)) for offer_id in set(offer_ids)]
    found = [_to_offer(item) for item in OfferItem.batch_get(wanted)] if wanted else []
    return sorted(found, key=lambda offer: offer.id)


def multiplier_offers_ending_after(tenant: TenantId, since: datetime) -> list[Offer]:
    """The tenant's multiplier offers that end after `since` (or never), by end: a Query
    of gsi3, every page. Until the tenant is marked indexed (its offers stored before the
    index may lack the keys), the whole offers partition is read instead."""
    bound_settings()
    found: list[Offer] = []
    marked = False
    for item in OfferItem.multipliers_by_end.query(
        keys.multiplier_offers_pk(tenant), OfferItem.gsi3sk > sortable_timestamp(since)
    ):
        if item.sk == keys.OFFERS_INDEXED_SK:
            marked = True
        else:
            found.append(_to_offer(item))
    if marked:
        return found
    return [
        offer
        for offer in _multiplier_offers_unindexed(tenant)
        if offer.valid_until is None or offer.valid_until > since
    ]


def _multiplier_offers_unindexed(tenant: TenantId) -> list[Offer]:
    """Every multiplier offer, from a Query of the whole offers partition (every page). A
    read never marks the tenant: `index_stored_offers` does, after giving offers their keys."""
    return [
        _to_offer(item)
        for item in OfferItem.query(
            keys.offers_pk(tenant), OfferItem.sk.startswith(keys.OFFER_PREFIX)
        )
        if item.multiplier is not None
    ]


def _indexed_marker(tenant: TenantId, at: datetime) -> OffersIndexedItem:
    return OffersIndexedItem(
        keys.offers_pk(tenant),
        keys.OFFERS_INDEXED_SK,
        gsi3pk=keys.multiplier_offers_pk(tenant),
        gsi3sk=keys.OFFERS_INDEXED_GSI_SK,
        indexed_at=at,
    )


def add_indexed_marker_to(transaction: LabelledTransaction, tenant: TenantId, at: datetime) -> None:
    """Mark a new tenant indexed in its creating transaction: it has no offers stored
    before gsi3, so its multiplier reads never need the whole partition."""
    transaction.put("offers indexed", _indexed_marker(tenant, at))


def index_stored_offers(tenant: TenantId) -> int:
    """Back-fill: give the tenant's multiplier offers stored before gsi3 their keys (one
    UpdateItem each, only where they are still missing: a PATCH since has set them), then
    mark the tenant indexed. Answers how many offers it updated; safe to run again."""
    bound_settings()
    updated = 0
    for item in OfferItem.query(keys.offers_pk(tenant), OfferItem.sk.startswith(keys.OFFER_PREFIX)):
        index = _index_keys(tenant, _to_offer(item))
        if index is None or item.gsi3pk is not None:
            continue
        view = OfferIndexView(item.pk, item.sk)
        try:
            view.update(
                [OfferIndexView.gsi3pk.set(index[0]), OfferIndexView.gsi3sk.set(index[1])],
                condition=OfferIndexView.pk.exists() & OfferIndexView.gsi3pk.does_not_exist(),
            )
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            continue
        updated += 1
    _indexed_marker(tenant, utc_now()).save()
    return updated


def update_offer(tenant: TenantId, changed: Offer, fields: set[str], version: int) -> Offer:
    """One UpdateItem of the fields named, conditioned on (and raising) the version."""
    bound_settings()
    item = OfferItem(keys.offers_pk(tenant), keys.offer_sk(changed.id), version=version)
    values: dict[str, Any] = {name: getattr(changed, name) for name in fields}
    actions: list[Action] = [OfferItem.updated_at.set(changed.updated_at)]
    index = _index_keys(tenant, changed)
    if index is not None:
        actions += [OfferItem.gsi3pk.set(index[0]), OfferItem.gsi3sk.set(index[1])]
    for name, value in values.items():
        attribute = getattr(OfferItem, name)
        actions.append(
            attribute.remove() if value is None and name in _OPTIONAL else attribute.set(value)
        )
    try:
        item.update(actions)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise PreconditionFailed(f"offer {changed.id} changed since it was read") from error
        raise
    return _to_offer(item)


def insert_coupon(tenant: TenantId, coupon: Coupon) -> Coupon:
    """One PutItem, on condition the code is new in the tenant (CodeTaken otherwise)."""
    bound_settings()
    item = _coupon_item(tenant, coupon)
    try:
        item.save(condition=CouponItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise CodeTaken(coupon.code) from error
        raise
    return _to_coupon(item)


def add_coupon_to(transaction: LabelledTransaction, tenant: TenantId, coupon: Coupon) -> None:
    """Put the coupon in another write's transaction (a campaign message's), labelled
    `COUPON_PART`, on the same condition as `insert_coupon`: a failure of that label means
    the code is taken."""
    transaction.put(
        COUPON_PART, _coupon_item(tenant, coupon), condition=CouponItem.pk.does_not_exist()
    )


def get_coupon(tenant: TenantId, code: str) -> Coupon | None:
    bound_settings()
    try:
        item = CouponItem.get(keys.coupon_pk(tenant, code), keys.COUPON_SK, consistent_read=True)
    except CouponItem.DoesNotExist:
        return None
    return _to_coupon(item)


def _redeem_actions(order_id: str, at: datetime) -> list[Action]:
    return [CouponItem.redeemed_at.set(at), CouponItem.order_id.set(order_id)]


def _redeemable(customer_id: str, at: datetime) -> Any:
    """Not yet redeemed, not expired at `at`, and the customer's."""
    return (
        CouponItem.pk.exists()
        & CouponItem.redeemed_at.does_not_exist()
        & (CouponItem.expires_at.does_not_exist() | (CouponItem.expires_at > at))
        & (CouponItem.customer_id == customer_id)
    )


def redeem_coupon(tenant: TenantId, coupon: Coupon, order_id: str, at: datetime) -> bool:
    """One UpdateItem marking the coupon redeemed for `order_id`, under the condition that
    it still can be; answers False when it could not (the caller reads it to say why)."""
    bound_settings()
    item = CouponItem(keys.coupon_pk(tenant, coupon.code), keys.COUPON_SK)
    try:
        item.update(_redeem_actions(order_id, at), condition=_redeemable(coupon.customer_id, at))
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def redemption_part(
    tenant: TenantId,
    coupon: Coupon,
    order_id: str,
    at: datetime,
    refused: Callable[[set[str]], Exception],
) -> ConditionedPart:
    """The same conditioned update, as part of the points transaction of a bonus-points
    coupon (its points are credited only if the coupon is redeemed, and once)."""

    def add(transaction: LabelledTransaction) -> None:
        item = CouponItem(keys.coupon_pk(tenant, coupon.code), keys.COUPON_SK)
        transaction.update(
            f"{COUPON_PART}:redeem",
            item,
            _redeem_actions(order_id, at),
            condition=_redeemable(coupon.customer_id, at),
        )

    return ConditionedPart(COUPON_PART, add, refused)


def list_customer_coupons(tenant: TenantId, customer_id: str, page: PageRequest) -> Page[Coupon]:
    """Newest first: one Query of gsi1 per page."""
    bound_settings()
    items, cursor = page_of(
        tenant,
        f"coupons:{customer_id}",
        page,
        lambda start, limit: CouponItem.by_customer.query(
            keys.customer_coupons_pk(tenant, customer_id),
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        ("gsi1pk", "gsi1sk"),
    )
    return Page([_to_coupon(item) for item in items], cursor)


def customer_coupons(tenant: TenantId, customer_id: str, limit: int | None) -> list[Coupon]:
    """The customer's newest `limit` coupons (None: all of them, for its export)."""
    bound_settings()
    items = CouponItem.by_customer.query(
        keys.customer_coupons_pk(tenant, customer_id), scan_index_forward=False, limit=limit
    )
    return [_to_coupon(item) for item in items]
