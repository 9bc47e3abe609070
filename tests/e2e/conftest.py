"""Over real HTTP: `python -m devtools.run_local` (what `make run` starts) with its own
DynamoDB Local and `chalice local` on free ports, data under a temporary directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.dynamodb_local import ROOT, free_port
from devtools.stage import stage_environment
from tests.support.api import Answer, Api

pytestmark = pytest.mark.e2e


@dataclass
class LocalStack:
    process: subprocess.Popen[bytes]
    base_url: str
    local_dir: Path
    dynamodb_port: int

    @property
    def admin_key(self) -> str:
        return (self.local_dir / "admin-key").read_text().strip()

    def dynamodb_client(self) -> Any:
        """A boto3 client of the stack's DynamoDB Local (to read or poison items directly)."""
        import boto3

        environment = stage_environment("local")
        return boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{self.dynamodb_port}",
            region_name=environment["AWS_DEFAULT_REGION"],
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        )

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


def _wait_for_port(
    port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited early:\n{log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("the local stack did not start in time")


def start_stack(
    local_dir: Path,
    auth_cache_seconds: int | None = 0,
    *,
    autoreload: bool = False,
    environ: dict[str, str] | None = None,
) -> LocalStack:
    """The stack as the tests use it (`--no-autoreload`), or with `autoreload` as `make run`
    starts it (its code watcher on, WATCH_PATHS from `environ` if given).
    `auth_cache_seconds=None` leaves AUTH_CACHE_SECONDS unset: the stage default, as
    `make run` has it."""
    port, dynamodb_port = free_port(), free_port()
    environment = {
        **os.environ,
        "LOCAL_DIR": str(local_dir),
        "RATE_LIMIT_IN_APP": "false",
        "LOCAL_SCHEDULE_SECONDS": "1",
    }
    environment.pop("AUTH_CACHE_SECONDS", None)
    if auth_cache_seconds is not None:
        environment["AUTH_CACHE_SECONDS"] = str(auth_cache_seconds)
    environment.update(environ or {})
    log = local_dir / "stack.log"
    # A file, not a pipe: nobody reads the stack's output while the tests run, and a full
    # pipe would block every process that logs (the API, the schedule, the stream runner).
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.run_local",
            "--port",
            str(port),
            "--dynamodb-port",
            str(dynamodb_port),
            *([] if autoreload else ["--no-autoreload"]),
        ],
        cwd=ROOT,
        env=environment,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    _wait_for_port(port, process, log)
    return LocalStack(process, f"http://127.0.0.1:{port}", local_dir, dynamodb_port)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    running = start_stack(tmp_path_factory.mktemp("local"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def isolated_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack for one module alone: a fuzzer's load and tenants stay off the shared one."""
    running = start_stack(tmp_path_factory.mktemp("isolated"))
    yield running
    running.stop()


def http_transport(base_url: str, *, follow_redirects: bool = True):  # type: ignore[no-untyped-def]
    """Requests over HTTP; with `follow_redirects=False` a 301 (a merged customer's read) is
    answered as it is rather than followed."""
    session = requests.Session()

    def send(method: str, path: str, headers: dict[str, str], body: bytes | None) -> Answer:
        response = session.request(
            method,
            base_url + path,
            headers=headers,
            data=body,
            timeout=30,
            allow_redirects=follow_redirects,
        )
        return Answer(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            text=response.text,
        )

    return send


@pytest.fixture(scope="session")
def platform(stack: LocalStack) -> Api:
    return Api(http_transport(stack.base_url), stack.admin_key)


@pytest.fixture(scope="module")
def isolated_platform(isolated_stack: LocalStack) -> Api:
    return Api(http_transport(isolated_stack.base_url), isolated_stack.admin_key)


@pytest.fixture
def tenant_a(platform: Api) -> Api:
    return platform.create_tenant("Tenant A")


@pytest.fixture
def tenant_b(platform: Api) -> Api:
    return platform.create_tenant("Tenant B")


def wait_for_backfill(tenant: Api, segment_id: str, timeout: float = 120) -> None:
    """Until the segment's back-fill (run by the local schedule) has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = tenant.get(f"/v1/segments/{segment_id}").json
        if body["backfill"]["status"] == "done":
            return
        time.sleep(0.3)
    raise AssertionError(f"the back-fill of {segment_id} did not finish")
