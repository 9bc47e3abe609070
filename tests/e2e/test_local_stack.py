"""What `make run` promises: DynamoDB Local on disk, the admin key, the API, clean stops."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from tests.e2e.conftest import LocalStack, http_transport, start_stack
from tests.support.api import Api, profile


def _listening(port: int) -> bool:
    result = subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], check=False)
    return result.returncode == 0


def test_the_admin_key_is_private_and_data_survives_a_restart(tmp_path: Path) -> None:
    first = start_stack(tmp_path)
    try:
        key_file = tmp_path / "admin-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        platform = Api(http_transport(first.base_url), first.admin_key)
        tenant = platform.create_tenant("Persistent")
        customer = tenant.create_customer(name="Kept", email="kept@example.com")
    finally:
        assert first.stop() == 0
    assert not _listening(int(first.base_url.rsplit(":", 1)[1]))
    assert not _listening(first.dynamodb_port)

    second = start_stack(tmp_path)
    try:
        assert second.admin_key == first.admin_key
        again = Api(http_transport(second.base_url), tenant.key, tenant.tenant_id)
        assert profile(again.get(f"/v1/customers/{customer['id']}").json) == profile(customer)
        assert Api(http_transport(second.base_url), second.admin_key).create_tenant().tenant_id
    finally:
        second.stop()


def test_the_stack_serves_the_docs_page(stack: LocalStack) -> None:
    api = Api(http_transport(stack.base_url))

    page = api.get("/docs")
    document = api.get("/v1/openapi.json")

    assert page.status == 200 and "swagger-ui" in page.text
    assert document.json["openapi"] == "3.1.0"
