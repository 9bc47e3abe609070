"""Issue 13, item 6: revocation and suspension take effect within 5 s (one bounded cache, no
cached misses); rotating and revoking keys keeps the tenant's key count exact; a key made
while its tenant is being suspended is not active."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.dal import control
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.plans import limits_of
from chalicelib.domain.tenancy import Plan, Role, Tenant, TenantId, TenantStatus, issue_key
from chalicelib.services import auth
from chalicelib.services.api_keys import create_key
from chalicelib.settings import MAX_AUTH_CACHE_SECONDS, reset_settings
from tests.support.api import Api

FREE_KEYS = limits_of(Plan.FREE).max_api_keys


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cache_clock(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeClock]:
    """The stage default (AUTH_CACHE_SECONDS unset: 5 s), the auth cache on a hand clock."""
    monkeypatch.delenv("AUTH_CACHE_SECONDS")
    reset_settings()
    auth.clear_cache()
    clock = FakeClock()
    monkeypatch.setattr(auth._cache, "clock", clock)
    yield clock


def _tenant(api: Api) -> Tenant:
    assert api.tenant_id is not None
    tenant = control.get_tenant(TenantId(api.tenant_id))
    assert tenant is not None
    return tenant


def _keys(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/v1/api-keys").json["items"]
    return items


def _counted(api: Api) -> list[dict[str, Any]]:
    """Keys that hold a place in the plan's count: neither revoked nor replaced by rotation."""
    return [k for k in _keys(api) if k["revoked_at"] is None and k["rotated_to"] is None]


# One cache, at most 5 s


def test_a_revoked_key_is_refused_once_the_5_second_ttl_has_passed(
    cache_clock: FakeClock, tenant_a: Api
) -> None:
    # Given a staff key this process has just authenticated (and so cached)
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    staff = tenant_a.as_key(issued["key"])
    assert staff.get("/v1/customers").status == 200

    # When it is revoked
    assert tenant_a.delete(f"/v1/api-keys/{issued['id']}").status == 204

    # Then the cached answer lasts less than 5 s, and after that the key is refused
    cache_clock.now += MAX_AUTH_CACHE_SECONDS - 0.01
    assert staff.get("/v1/customers").status == 200
    cache_clock.now += 0.01
    assert "revoked" in staff.get("/v1/customers").problem(401)["detail"]


def test_a_suspended_tenants_key_is_refused_once_the_5_second_ttl_has_passed(
    cache_clock: FakeClock, platform: Api, tenant_a: Api
) -> None:
    # Given the tenant's admin key, cached
    assert tenant_a.get("/v1/customers").status == 200

    # When the tenant is suspended and 5 s pass
    platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend")
    cache_clock.now += MAX_AUTH_CACHE_SECONDS

    # Then its key is refused
    assert "suspended" in tenant_a.get("/v1/customers").problem(403)["detail"]


def test_an_unknown_secret_is_not_remembered_so_a_key_made_for_it_works_at_once(
    cache_clock: FakeClock, tenant_a: Api
) -> None:
    # Given a secret that is no key yet, refused
    secret = "crm_" + secrets.token_urlsafe(32)
    newcomer = tenant_a.as_key(secret)
    newcomer.get("/v1/customers").problem(401)

    # When a key with that secret is stored (the clock does not move)
    tenant = _tenant(tenant_a)
    control.insert_api_key(
        issue_key(Role.READONLY, tenant.id, utc_now(), secret=secret, owner=tenant).record
    )

    # Then it works at once
    assert newcomer.get("/v1/customers").status == 200


def test_a_flood_of_unknown_secrets_does_not_grow_the_cache(
    cache_clock: FakeClock, tenant_a: Api
) -> None:
    # Given the cache holding what this tenant's requests put there
    assert tenant_a.get("/v1/customers").status == 200
    before = len(auth._cache)

    # When many made-up secrets are tried
    for _ in range(50):
        tenant_a.as_key("crm_" + secrets.token_urlsafe(32)).get("/v1/customers").problem(401)

    # Then none of them is cached, and the cache is bounded anyway
    assert len(auth._cache) == before
    assert auth._cache.max_items == 1024


# The key count: each key leaves it once


def test_revoking_both_keys_of_a_rotation_frees_one_place_not_two(tenant_a: Api) -> None:
    # Given a free tenant at its key limit, one of its keys rotated
    made = [tenant_a.post("/v1/api-keys", {"role": "readonly"}).json for _ in range(FREE_KEYS - 1)]
    rotated = tenant_a.post(f"/v1/api-keys/{made[0]['id']}/rotate").json
    assert _tenant(tenant_a).key_count == FREE_KEYS

    # When the old and the new key are revoked, each twice
    for key_id in (made[0]["id"], rotated["id"], made[0]["id"], rotated["id"]):
        assert tenant_a.delete(f"/v1/api-keys/{key_id}").status == 204

    # Then the count went down by one, and exactly one key can be made again
    assert _tenant(tenant_a).key_count == FREE_KEYS - 1 == len(_counted(tenant_a))
    assert tenant_a.post("/v1/api-keys", {"role": "readonly"}).status == 201
    refused = tenant_a.post("/v1/api-keys", {"role": "readonly"}).problem(403)
    assert refused["quota"] == "max_api_keys"
    assert _tenant(tenant_a).key_count == FREE_KEYS == len(_counted(tenant_a))


def test_rotate_and_revoke_cycles_never_take_a_tenant_past_its_key_limit(tenant_a: Api) -> None:
    # Given a free tenant at its key limit
    for _ in range(FREE_KEYS - 1):
        tenant_a.post("/v1/api-keys", {"role": "readonly"})

    for _ in range(3):
        # When a key is rotated, the old one revoked, then the new one, and keys are made
        victim = next(k for k in _counted(tenant_a) if k["role"] == "readonly")
        new = tenant_a.post(f"/v1/api-keys/{victim['id']}/rotate").json
        tenant_a.delete(f"/v1/api-keys/{victim['id']}")
        tenant_a.delete(f"/v1/api-keys/{new['id']}")
        answers = [tenant_a.post("/v1/api-keys", {"role": "readonly"}).status for _ in range(3)]

        # Then only the one freed place is taken again
        assert answers == [201, 403, 403]
        assert _tenant(tenant_a).key_count == FREE_KEYS == len(_counted(tenant_a))


def test_a_rotated_key_revoked_alone_keeps_its_place_with_its_successor(tenant_a: Api) -> None:
    # Given a key rotated (old and new both work during the grace period)
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    new = tenant_a.post(f"/v1/api-keys/{issued['id']}/rotate").json
    before = _tenant(tenant_a).key_count

    # When only the old one is revoked
    tenant_a.delete(f"/v1/api-keys/{issued['id']}")

    # Then it stops working, the new one still counts, and the count did not change
    tenant_a.as_key(issued["key"]).get("/v1/customers").problem(401)
    assert tenant_a.as_key(new["key"]).get("/v1/customers").status == 200
    assert _tenant(tenant_a).key_count == before == len(_counted(tenant_a))


# Suspension and keys made at the same time


def test_a_key_made_from_a_tenant_read_before_its_suspension_is_not_stored(
    platform: Api, tenant_a: Api
) -> None:
    # Given a key made from the tenant as read while it was active
    active = _tenant(tenant_a)
    late = issue_key(Role.STAFF, active.id, utc_now(), owner=active)

    # When the tenant is suspended before the key is stored
    platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend")

    # Then storing it fails (the caller reads the tenant again), nothing is stored or counted
    with pytest.raises(ConcurrentModification):
        control.insert_api_key(late.record, max_keys=FREE_KEYS)
    assert control.get_api_key(late.record.key_hash) is None
    assert _tenant(tenant_a).key_count == active.key_count


def test_a_rotation_racing_a_suspension_stores_no_active_key(platform: Api, tenant_a: Api) -> None:
    # Given a key to rotate and its successor made while the tenant was active
    issued = tenant_a.post("/v1/api-keys", {"role": "staff"}).json
    old = control.find_api_key(TenantId(str(tenant_a.tenant_id)), issued["id"])
    active = _tenant(tenant_a)
    assert old is not None
    successor = issue_key(old.role, active.id, utc_now(), owner=active)

    # When the tenant is suspended before the rotation is stored
    platform.post(f"/v1/admin/tenants/{tenant_a.tenant_id}/suspend")

    # Then the rotation fails as a whole: no successor, the old key not rotated
    with pytest.raises(ConcurrentModification):
        control.rotate_api_key(old, successor.record, utc_now())
    assert control.get_api_key(successor.record.key_hash) is None
    stored = control.get_api_key(old.key_hash)
    assert stored is not None and stored.rotated_to is None
    assert stored.tenant_status is TenantStatus.SUSPENDED


def test_a_key_created_during_a_suspension_works_only_after_reactivation(
    platform: Api, tenant_a: Api
) -> None:
    # Given a suspended tenant
    path = f"/v1/admin/tenants/{tenant_a.tenant_id}"
    platform.post(f"{path}/suspend")

    # When the platform admin makes it a key
    issued = platform.post(f"{path}/api-keys", {"role": "staff"})
    assert issued.status == 201, issued.text
    staff = tenant_a.as_key(issued.json["key"])

    # Then the key is stored suspended and refused, until the tenant is reactivated
    stored = control.find_api_key(TenantId(str(tenant_a.tenant_id)), issued.json["id"])
    assert stored is not None and stored.tenant_status is TenantStatus.SUSPENDED
    staff.get("/v1/customers").problem(403)
    platform.post(f"{path}/reactivate")
    assert staff.get("/v1/customers").status == 200


def test_a_key_created_as_a_suspension_lands_is_stored_suspended(
    platform: Api, tenant_a: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the service reads the tenant while it is active, and the suspension is written
    # right after that read (before the key is stored)
    path = f"/v1/admin/tenants/{tenant_a.tenant_id}"
    read_tenant = control.get_tenant
    reads: list[TenantStatus] = []

    def read_then_suspend(tenant: TenantId) -> Tenant | None:
        found = read_tenant(tenant)
        assert found is not None
        reads.append(found.status)
        if len(reads) == 1:
            monkeypatch.setattr(control, "get_tenant", read_tenant)  # the suspension's reads
            platform.post(f"{path}/suspend")
            monkeypatch.setattr(control, "get_tenant", read_then_suspend)
        return found

    monkeypatch.setattr(control, "get_tenant", read_then_suspend)

    # When a key is created
    issued = create_key(TenantId(str(tenant_a.tenant_id)), Role.STAFF, None, None)

    # Then the stale read is refused and the key stored with the suspension, refused at once
    assert reads[0] is TenantStatus.ACTIVE and reads[-1] is TenantStatus.SUSPENDED
    monkeypatch.undo()
    stored = control.get_api_key(issued.record.key_hash)
    assert stored is not None and stored.tenant_status is TenantStatus.SUSPENDED
    tenant_a.as_key(issued.secret).get("/v1/customers").problem(403)
