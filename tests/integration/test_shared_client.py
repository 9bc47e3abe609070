"""Issue 14: one botocore session and one DynamoDB client serve every model, transaction and
the idempotency store of a process (PynamoDB alone builds a client per model class)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from pynamodb.attributes import UnicodeAttribute

from chalicelib.dal import metering
from chalicelib.dal.connection import bound_settings, dynamodb_client, transaction_connection
from chalicelib.dal.models import CustomerItem, DataTableModel
from chalicelib.settings import reset_settings
from tests.support.api import Api


@pytest.fixture
def botocore_made(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts botocore sessions and DynamoDB clients created from now on, in a process
    whose shared session is not made yet (as in a fresh Lambda container)."""
    made: Counter[str] = Counter()
    original_init = botocore.session.Session.__init__
    original_create_client = botocore.session.Session.create_client

    def counting_init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        made["sessions"] += 1
        original_init(self, *args, **kwargs)

    def counting_create_client(
        self: botocore.session.Session, service_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        made[f"{service_name} clients"] += 1
        return original_create_client(self, service_name, *args, **kwargs)

    monkeypatch.setattr(metering, "_session", None)
    monkeypatch.setattr(botocore.session.Session, "__init__", counting_init)
    monkeypatch.setattr(botocore.session.Session, "create_client", counting_create_client)
    yield made


def test_models_transactions_and_idempotency_share_one_session_and_client(
    anonymous: Api, botocore_made: Counter[str]
) -> None:
    # Given a fresh process (no session yet), with the platform key registered through it
    from chalicelib.services.tenants import register_platform_key
    from tests.integration.conftest import ADMIN_SECRET

    register_platform_key(ADMIN_SECRET)
    tenant = anonymous.as_key(ADMIN_SECRET).create_tenant("Shared client")

    # When requests use several models, a transaction (a purchase), the idempotency store
    # and a batch (its items on a worker thread)
    customer = tenant.create_customer(name="Ann")["id"]
    purchase = {"type": "purchase", "amount": "10.00", "currency": "EUR", "order_id": "o-1"}
    bought = tenant.post(
        f"/v1/customers/{customer}/interactions", purchase, headers={"Idempotency-Key": "k-1"}
    )
    batch = tenant.post(
        "/v1/interactions:batch", {"items": [{"customer_id": customer, "type": "visit"}]}
    )
    points = tenant.get(f"/v1/customers/{customer}/points")

    # Then all of it went through one botocore session and one DynamoDB client
    assert bought.status == 201, bought.text
    assert batch.json["created"] == 1, batch.text
    assert points.json["balance"] == 10
    assert botocore_made["sessions"] == 1
    assert botocore_made["dynamodb clients"] == 1


def test_models_of_a_module_imported_after_the_binding_share_the_client_too(
    anonymous: Api, botocore_made: Counter[str]
) -> None:
    # Given a process bound by its first requests (before the duplicates views and their
    # models module were imported)
    from chalicelib.services.tenants import register_platform_key
    from tests.integration.conftest import ADMIN_SECRET

    register_platform_key(ADMIN_SECRET)
    tenant = anonymous.as_key(ADMIN_SECRET).create_tenant("Late models")
    customer = tenant.create_customer(name="Ann")["id"]

    # When routes reading those models are called
    listed = tenant.get(f"/v1/customers/{customer}/duplicates")
    tenant_wide = tenant.get("/v1/duplicates")

    # Then they used the one client too
    assert listed.status == 200 and tenant_wide.status == 200
    assert botocore_made["dynamodb clients"] == 1


def test_a_model_defined_after_the_binding_uses_the_shared_client_and_the_data_table(
    dynamodb: object,
) -> None:
    """chalicelib.dal.models imports each feature's models lazily: a model first defined
    after the binding still uses the shared client."""
    # Given models already bound to the tables and the shared client
    settings = bound_settings()
    assert CustomerItem._get_connection().connection.client is dynamodb_client()

    # When a model is defined afterwards (as when a feature's submodule is first imported)
    class LateItem(DataTableModel):
        note = UnicodeAttribute()

    LateItem(pk="T#late#X", sk="LATE", note="stored").save()

    # Then it writes through the one shared client into the data table
    assert LateItem._get_connection().connection.client is dynamodb_client()
    stored = dynamodb_client().get_item(
        TableName=settings.data_table, Key={"pk": {"S": "T#late#X"}, "sk": {"S": "LATE"}}
    )["Item"]
    assert stored["note"] == {"S": "stored"}


def test_the_shared_client_keeps_as_many_connections_as_the_settings_say(
    dynamodb: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local stage (`chalice local`: a thread per request), then a process set to 37
    local_pool = dynamodb_client().meta.config.max_pool_connections
    monkeypatch.setenv("DYNAMODB_MAX_POOL_CONNECTIONS", "37")
    reset_settings()

    # When the models and the transactions are bound again
    client = dynamodb_client()

    # Then the one client they share keeps that many connections (botocore's default is 10)
    assert local_pool == 64
    assert client.meta.config.max_pool_connections == 37
    assert CustomerItem._get_connection().connection.client is client
    assert transaction_connection().client is client
