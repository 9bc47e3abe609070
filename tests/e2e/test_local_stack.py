"""What `make run` promises: DynamoDB Local on disk, the admin key, the API, clean stops."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import stat
import subprocess
from pathlib import Path

from devtools.stream_runner import PROGRESS_FILE, wait_until_drained
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


_API_STARTED = re.compile(r"API process (\d+) started")
_BURST = 32
"""More clients than socketserver's default listen backlog (5) queues, as 20 and more
clients connecting to `make run` at the same moment are."""


def _api_pid(stack: LocalStack) -> int:
    return int(_API_STARTED.findall((stack.local_dir / "stack.log").read_text())[-1])


def _answer(connection: socket.socket) -> tuple[int, dict[str, object]]:
    """Waits up to 120 s: 32 requests at once share one process and two busy cores."""
    connection.settimeout(120)
    with connection:
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, json.loads(response.read())


def test_a_burst_of_clients_connecting_at_once_is_queued_and_every_one_answered(
    stack: LocalStack, tenant_a: Api
) -> None:
    # Given a customer, and the API process paused: it accepts no connection meanwhile, as
    # when its request threads hold the GIL while many clients connect
    customer = tenant_a.create_customer(name="Burst")
    request = (
        f"GET /v1/customers/{customer['id']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {tenant_a.key}\r\nConnection: close\r\n\r\n"
    ).encode()
    host, port = stack.base_url.removeprefix("http://").split(":")
    api = _api_pid(stack)
    os.kill(api, signal.SIGSTOP)
    try:
        # When 32 clients connect and send their requests (the kernel completes each
        # handshake for the listening socket; beyond its backlog a connect would hang)
        connections = [
            socket.create_connection((host, int(port)), timeout=10) for _ in range(_BURST)
        ]
        for connection in connections:
            connection.sendall(request)
    finally:
        os.kill(api, signal.SIGCONT)

    # Then, once the API runs again, every client gets the customer (none was refused or
    # reset), and its 32 request threads at once found the DynamoDB pool large enough
    answers = [_answer(connection) for connection in connections]
    assert [(status, body["id"], body["name"]) for status, body in answers] == [
        (200, customer["id"], "Burst")
    ] * _BURST
    assert "Connection pool is full" not in (stack.local_dir / "stack.log").read_text()


def test_the_stack_serves_the_docs_page(stack: LocalStack) -> None:
    api = Api(http_transport(stack.base_url))

    page = api.get("/docs")
    document = api.get("/v1/openapi.json")

    assert page.status == 200 and "swagger-ui" in page.text
    assert document.json["openapi"] == "3.1.0"


def test_a_restart_resumes_the_streams_where_they_were(tmp_path: Path) -> None:
    # Given a stack whose stream functions handled the records of some customers
    first = start_stack(tmp_path)
    try:
        platform = Api(http_transport(first.base_url), first.admin_key)
        tenant = platform.create_tenant("Streams")
        customers = [tenant.create_customer(name=f"Kept {n}")["id"] for n in range(20)]
        wait_until_drained(tmp_path)
        handled_before = _records_processed(tmp_path)
    finally:
        assert first.stop() == 0
    # When the stack starts again over the same data and a customer buys
    second = start_stack(tmp_path)
    try:
        again = Api(http_transport(second.base_url), tenant.key, tenant.tenant_id)
        bought = again.post(
            f"/v1/customers/{customers[0]}/interactions",
            {"type": "purchase", "amount": "5.00", "currency": "EUR", "order_id": "r-1"},
        )
        assert bought.status == 201, bought.text
        wait_until_drained(tmp_path)
        # Then the purchase is in the customer's metrics, and the stream functions were
        # not given the records of the first run again
        assert again.get(f"/v1/customers/{customers[0]}").json["metrics"]["purchase_count"] == 1
        assert _records_processed(tmp_path) < handled_before / 2
    finally:
        second.stop()


def _records_processed(local_dir: Path) -> int:
    return int(json.loads((local_dir / PROGRESS_FILE).read_text())["records_processed"])
