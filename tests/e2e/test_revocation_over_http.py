"""Over HTTP with the local stack's own settings (AUTH_CACHE_SECONDS unset, as `make run`
has it): a revoked key and a suspended tenant's key are refused within 5 s."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chalicelib.settings import MAX_AUTH_CACHE_SECONDS
from tests.e2e.conftest import LocalStack, http_transport, start_stack
from tests.support.api import Api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    running = start_stack(tmp_path_factory.mktemp("default-settings"), auth_cache_seconds=None)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def platform_default(default_stack: LocalStack) -> Api:
    return Api(http_transport(default_stack.base_url), default_stack.admin_key)


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def test_a_revoked_key_is_refused_within_5_seconds(platform_default: Api) -> None:
    # Given a staff key the API process has just authenticated (so holds in its cache)
    tenant = platform_default.create_tenant("Revoking")
    issued = tenant.post("/v1/api-keys", {"role": "staff"}).json
    staff = tenant.as_key(issued["key"])
    assert staff.get("/v1/customers").status == 200

    # When the key is revoked
    revoked_at = time.monotonic()
    assert tenant.delete(f"/v1/api-keys/{issued['id']}").status == 204

    # Then 5 s later (the cache's whole TTL) it is refused, and stays refused
    _wait_until(revoked_at + MAX_AUTH_CACHE_SECONDS)
    assert "revoked" in staff.get("/v1/customers").problem(401)["detail"]
    staff.get("/v1/customers").problem(401)


def test_a_suspended_tenants_key_is_refused_within_5_seconds(platform_default: Api) -> None:
    # Given a tenant whose admin key the API process holds in its cache
    tenant = platform_default.create_tenant("Suspending")
    assert tenant.get("/v1/customers").status == 200

    # When the tenant is suspended
    suspended_at = time.monotonic()
    platform_default.post(f"/v1/admin/tenants/{tenant.tenant_id}/suspend")

    # Then 5 s later its key is refused
    _wait_until(suspended_at + MAX_AUTH_CACHE_SECONDS)
    assert "suspended" in tenant.get("/v1/customers").problem(403)["detail"]
