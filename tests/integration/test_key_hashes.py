"""A change of a tenant reaches every one of its keys, also a key whose gsi1 entry has not
propagated yet: the tenant item names its keys' hashes, kept in the transactions that
create, rotate and revoke keys; tenants whose item names none (stored before) are still
reached through gsi1."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.dal import control
from chalicelib.dal.connection import dynamodb_client
from chalicelib.domain.clock import utc_now
from chalicelib.domain.tenancy import Tenant, TenantId, TenantStatus, hash_secret
from chalicelib.services.purge import run_due_purges
from tests.support.api import Api


class UnpropagatedKeys:
    """The control table's gsi1 as DynamoDB can answer it just after a write: the index
    entries of the keys held here have not propagated, so no Query finds them (only gsi1
    Queries answer key items), while reads by key (GetItem, UpdateItem) do."""

    def __init__(self) -> None:
        self.hashes: set[str] = set()

    def hide(self, secret: str) -> str:
        key_hash = hash_secret(secret)
        self.hashes.add(key_hash)
        return key_hash

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        hidden = {f"APIKEY#{key_hash}" for key_hash in self.hashes}
        items = [item for item in parsed.get("Items", []) if item["pk"]["S"] not in hidden]
        parsed["Items"] = items
        parsed["Count"] = len(items)


@pytest.fixture
def unpropagated(tenant_a: Api) -> Iterator[UnpropagatedKeys]:
    fake = UnpropagatedKeys()
    events = dynamodb_client().meta.events
    events.register("after-call.dynamodb.Query", fake, unique_id="unpropagated-keys")
    yield fake
    events.unregister("after-call.dynamodb.Query", unique_id="unpropagated-keys")


def _tenant(api: Api) -> Tenant:
    assert api.tenant_id is not None
    tenant = control.get_tenant(TenantId(api.tenant_id))
    assert tenant is not None
    return tenant


def _listed_ids(api: Api) -> list[str]:
    return [key["id"] for key in api.get("/v1/api-keys").json["items"]]


def _stored_status(secret: str) -> TenantStatus | None:
    stored = control.get_api_key(hash_secret(secret))
    assert stored is not None
    return stored.tenant_status


def _forget_key_hashes(dynamodb: Any, environment: dict[str, str], api: Api) -> None:
    """The tenant item as stored before tenant items named their keys."""
    dynamodb.update_item(
        TableName=environment["CONTROL_TABLE"],
        Key={"pk": {"S": f"TENANT#{api.tenant_id}"}, "sk": {"S": "TENANT"}},
        UpdateExpression="REMOVE key_hashes",
    )


# The race: a key committed before the suspension, not yet in gsi1


def test_a_key_not_yet_in_the_index_is_suspended_with_its_tenant(
    platform: Api, tenant_a: Api, unpropagated: UnpropagatedKeys
) -> None:
    # Given a staff key whose creation committed but whose gsi1 entry has not propagated
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    unpropagated.hide(issued["key"])
    staff = tenant_a.as_key(issued["key"])
    assert issued["id"] not in _listed_ids(tenant_a)
    assert staff.get("/v1/customers").status == 200

    # When the tenant is suspended
    assert platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend").status == 200

    # Then that key is refused, and its item carries the suspension
    assert "suspended" in staff.get("/v1/customers").problem(403)["detail"]
    assert _stored_status(issued["key"]) is TenantStatus.SUSPENDED


def test_a_rotated_key_not_yet_in_the_index_is_suspended_with_its_tenant(
    platform: Api, tenant_a: Api, unpropagated: UnpropagatedKeys
) -> None:
    # Given a key rotated a moment ago: the successor's gsi1 entry has not propagated
    old = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    new = tenant_a.post(f"/v1/api-keys/{old['id']}/rotate").json
    unpropagated.hide(new["key"])
    successor, predecessor = tenant_a.as_key(new["key"]), tenant_a.as_key(old["key"])
    assert new["id"] not in _listed_ids(tenant_a)
    assert successor.get("/v1/customers").status == 200

    # When the tenant is suspended
    assert platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend").status == 200

    # Then both secrets of the rotation are refused, and both items carry the suspension
    assert "suspended" in successor.get("/v1/customers").problem(403)["detail"]
    assert "suspended" in predecessor.get("/v1/customers").problem(403)["detail"]
    assert _stored_status(new["key"]) is TenantStatus.SUSPENDED
    assert _stored_status(old["key"]) is TenantStatus.SUSPENDED


def test_a_plan_change_reaches_a_key_not_yet_in_the_index(
    platform: Api, tenant_a: Api, unpropagated: UnpropagatedKeys
) -> None:
    # Given a key whose gsi1 entry has not propagated
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    unpropagated.hide(issued["key"])

    # When the tenant's plan changes
    changed = platform.patch(f"/v1/admin/tenants/{tenant_a.tenant_id}", {"plan": "standard"})

    # Then the key carries the new plan
    assert changed.status == 200, changed.text
    stored = control.get_api_key(hash_secret(issued["key"]))
    assert stored is not None and stored.tenant_plan is not None
    assert stored.tenant_plan.value == "standard"


# What the tenant item names


def test_creating_rotating_and_revoking_keys_keeps_the_named_hashes(tenant_a: Api) -> None:
    # Given the tenant's first key, and a second one
    first = hash_secret(str(tenant_a.key))
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    assert _tenant(tenant_a).key_hashes == {first, hash_secret(issued["key"])}

    # When the second is rotated
    new = tenant_a.post(f"/v1/api-keys/{issued['id']}/rotate").json

    # Then the tenant names both secrets of the rotation, until each is revoked
    assert _tenant(tenant_a).key_hashes == {
        first,
        hash_secret(issued["key"]),
        hash_secret(new["key"]),
    }
    assert tenant_a.delete(f"/v1/api-keys/{issued['id']}").status == 204
    assert _tenant(tenant_a).key_hashes == {first, hash_secret(new["key"])}
    assert tenant_a.delete(f"/v1/api-keys/{new['id']}").status == 204
    assert _tenant(tenant_a).key_hashes == {first}
    assert _tenant(tenant_a).key_count == 1


def test_a_change_of_the_tenant_drops_the_hashes_of_expired_keys(
    dynamodb: Any, environment: dict[str, str], platform: Api, tenant_a: Api
) -> None:
    # Given a key that has expired since it was made
    issued = tenant_a.post(
        "/v1/api-keys",
        {"role": "staff", "expires_at": (utc_now() + timedelta(hours=1)).isoformat()},
    ).json
    dynamodb.update_item(
        TableName=environment["CONTROL_TABLE"],
        Key={"pk": {"S": f"APIKEY#{hash_secret(issued['key'])}"}, "sk": {"S": "APIKEY"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"S": "2020-01-01T00:00:00.000000+0000"}},
    )
    assert hash_secret(issued["key"]) in _tenant(tenant_a).key_hashes

    # When the tenant is suspended
    suspended = platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend")

    # Then its item no longer names the expired key, and the answer is the item as stored
    assert _tenant(tenant_a).key_hashes == {hash_secret(str(tenant_a.key))}
    assert suspended.json["version"] == _tenant(tenant_a).version


def test_a_full_tenant_item_drops_the_hashes_of_dead_keys_to_name_a_new_one(
    dynamodb: Any, environment: dict[str, str], tenant_a: Api
) -> None:
    # Given a tenant item naming as many hashes as it may, all but its first key's gone
    gone = {hash_secret(secrets.token_hex(8)) for _ in range(control.MAX_KEY_HASHES - 1)}
    dynamodb.update_item(
        TableName=environment["CONTROL_TABLE"],
        Key={"pk": {"S": f"TENANT#{tenant_a.tenant_id}"}, "sk": {"S": "TENANT"}},
        UpdateExpression="ADD key_hashes :gone",
        ExpressionAttributeValues={":gone": {"SS": sorted(gone)}},
    )
    assert len(_tenant(tenant_a).key_hashes) == control.MAX_KEY_HASHES

    # When a key is created
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"})

    # Then it is stored, and the item names the live keys only
    assert issued.status == 201, issued.text
    assert _tenant(tenant_a).key_hashes == {
        hash_secret(str(tenant_a.key)),
        hash_secret(issued.json["key"]),
    }


def test_a_tenant_item_full_of_live_keys_refuses_another_and_stores_nothing(
    dynamodb: Any, environment: dict[str, str], tenant_a: Api
) -> None:
    # Given a tenant naming as many live keys as its item may hold (past any plan's count,
    # as rotated keys within their grace period could be)
    live = [secrets.token_hex(32) for _ in range(control.MAX_KEY_HASHES - 1)]
    _store_live_keys(dynamodb, environment, tenant_a, live)
    before = _tenant(tenant_a)
    assert len(before.key_hashes) == control.MAX_KEY_HASHES

    # When one more key is asked for
    refused = tenant_a.post("/v1/api-keys", {"role": "staff"})

    # Then it is refused as over the quota, and nothing is stored or counted
    assert refused.problem(403)["quota"] == "max_api_keys"
    after = _tenant(tenant_a)
    assert after.key_hashes == before.key_hashes and after.key_count == before.key_count


def _store_live_keys(
    dynamodb: Any, environment: dict[str, str], api: Api, hashes: list[str]
) -> None:
    """Readonly keys stored as items and named on the tenant item, written directly (one
    transaction each would take moto minutes)."""
    table = environment["CONTROL_TABLE"]
    for start in range(0, len(hashes), 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": _key_item(api, key_hash)}}
                    for key_hash in hashes[start : start + 25]
                ]
            }
        )
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": f"TENANT#{api.tenant_id}"}, "sk": {"S": "TENANT"}},
        UpdateExpression="ADD key_hashes :live",
        ExpressionAttributeValues={":live": {"SS": hashes}},
    )


def _key_item(api: Api, key_hash: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"APIKEY#{key_hash}"},
        "sk": {"S": "APIKEY"},
        "gsi1pk": {"S": f"TENANT#{api.tenant_id}#KEYS"},
        "gsi1sk": {"S": f"key_{key_hash[:26]}"},
        "entity": {"S": "api_key"},
        "key_id": {"S": f"key_{key_hash[:26]}"},
        "tenant_id": {"S": str(api.tenant_id)},
        "role": {"S": "readonly"},
        "created_at": {"S": "2026-01-01T00:00:00.000000+0000"},
        "tenant_status": {"S": "active"},
        "tenant_plan": {"S": "free"},
    }


# Tenants stored before their items named their keys


def test_a_tenant_whose_item_names_no_keys_still_has_every_key_suspended(
    dynamodb: Any, environment: dict[str, str], platform: Api, tenant_a: Api
) -> None:
    # Given a tenant with two keys, whose item was stored before items named their keys
    staff = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    _forget_key_hashes(dynamodb, environment, tenant_a)
    assert _tenant(tenant_a).key_hashes == frozenset()

    # When it is suspended
    assert platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend").status == 200

    # Then every key (found through gsi1) carries the suspension and is refused
    for secret in (str(tenant_a.key), staff["key"]):
        assert _stored_status(secret) is TenantStatus.SUSPENDED
        assert "suspended" in tenant_a.as_key(secret).get("/v1/customers").problem(403)["detail"]


def test_a_key_revoked_from_a_tenant_whose_item_names_no_keys_is_revoked(
    dynamodb: Any, environment: dict[str, str], tenant_a: Api
) -> None:
    # Given a key of a tenant whose item names no keys
    staff = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    _forget_key_hashes(dynamodb, environment, tenant_a)

    # When it is revoked
    revoked = tenant_a.delete(f"/v1/api-keys/{staff['id']}")

    # Then it is refused and no longer counted
    assert revoked.status == 204, revoked.text
    tenant_a.as_key(staff["key"]).get("/v1/customers").problem(401)
    assert _tenant(tenant_a).key_count == 1


# Offboarding


def test_the_purge_deletes_a_key_not_yet_in_the_index(
    dynamodb: Any,
    environment: dict[str, str],
    platform: Api,
    tenant_a: Api,
    unpropagated: UnpropagatedKeys,
) -> None:
    # Given a deleted tenant, one of whose keys gsi1 does not list
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    unpropagated.hide(issued["key"])
    assert platform.delete(f"/v1/admin/tenants/{tenant_a.tenant_id}").status == 202

    # When its purge runs
    run_due_purges(time.monotonic() + 60)

    # Then every key item is gone, and the tenant item names none
    assert control.get_api_key(hash_secret(issued["key"])) is None
    assert control.get_api_key(hash_secret(str(tenant_a.key))) is None
    purged = _tenant(tenant_a)
    assert purged.key_hashes == frozenset()
    assert purged.purge is not None and purged.purge.status == "completed"
