"""`python -m infra.offer_index`: multiplier offers a deployed stage stored before gsi3 get
their index keys, once, and every tenant is marked indexed; the trail names the command."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from chalicelib.dal import control, keys
from chalicelib.dal import offers as repository
from chalicelib.dal.rewards_models import OfferItem, OffersIndexedItem
from chalicelib.dal.schema import ALL_TABLES
from chalicelib.domain.clock import utc_now
from chalicelib.domain.ids import new_offer_id, new_tenant_id
from chalicelib.domain.offers import Offer, OfferType
from chalicelib.domain.tenancy import Plan, Role, Tenant, TenantStatus, issue_key, tenant_id
from chalicelib.settings import reset_settings
from devtools.tables import ensure_tables, table_names
from infra.offer_index import index_stage
from infra.stages import PROJECT_ROOT, chalice_stage_environment


@pytest.fixture
def deployed_dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    tables = [spec.environment_variable for spec in ALL_TABLES]
    for name in ("STAGE", "AWS_REGION", "CURSOR_SECRET", *tables):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        ensure_tables(dynamodb, table_names(chalice_stage_environment(PROJECT_ROOT, "dev")))
        yield
    reset_settings()


def _tenant() -> Tenant:
    """A tenant as the version before gsi3 created it: without the offers index marker."""
    now = utc_now()
    tenant = Tenant(
        id=tenant_id(new_tenant_id()),
        name="Before the index",
        plan=Plan.STANDARD,
        status=TenantStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        key_count=1,
    )
    control.insert_tenant(tenant, issue_key(Role.ADMIN, tenant.id, now, owner=tenant).record)
    OffersIndexedItem(keys.offers_pk(tenant.id), keys.OFFERS_INDEXED_SK).delete()
    return tenant


def _stored_multiplier(tenant: Tenant) -> Offer:
    """A x2 offer as the version before gsi3 stored it: without the index keys."""
    now = utc_now()
    offer = Offer(
        id=new_offer_id(),
        name="Boost",
        description=None,
        type=OfferType.BONUS_POINTS,
        points=None,
        multiplier=Decimal(2),
        percent=None,
        amount=None,
        currency=None,
        gift=None,
        coupon_days=None,
        valid_from=None,
        valid_until=None,
        active=True,
        created_at=now,
        updated_at=now,
    )
    repository.insert_offer(tenant.id, offer)
    item = OfferItem.get(keys.offers_pk(tenant.id), keys.offer_sk(offer.id))
    item.update([OfferItem.gsi3pk.remove(), OfferItem.gsi3sk.remove()])
    return offer


def test_stored_multipliers_get_their_index_keys_once(deployed_dev: None) -> None:
    # Given a stage with a tenant whose multiplier was stored before gsi3, not marked
    index_stage("dev", "us-east-1")  # points the settings at the stage
    tenant = _tenant()
    offer = _stored_multiplier(tenant)
    assert not _marked(tenant)

    # When the command runs twice
    first = index_stage("dev", "us-east-1")
    second = index_stage("dev", "us-east-1")

    # Then the offer got its keys the first time only, by the command, and the tenant is
    # marked indexed
    assert (first, second) == (1, 0)
    item = OfferItem.get(keys.offers_pk(tenant.id), keys.offer_sk(offer.id))
    assert item.gsi3pk == keys.multiplier_offers_pk(tenant.id)
    assert item.written_by == "system:offer_index"
    assert _marked(tenant)
    assert repository.multiplier_offers_ending_after(tenant.id, utc_now()) == [
        repository.get_offer(tenant.id, offer.id)
    ]


def _marked(tenant: Tenant) -> bool:
    return bool(
        OffersIndexedItem.count(keys.offers_pk(tenant.id), OffersIndexedItem.sk == "INDEXED")
    )
