"""The API in process (`chalice.test.Client`) on an in-memory DynamoDB Local, with one tenant.

Set up the way `devtools.run_local` and the integration tests do it: the `local` stage's
environment from .chalice/config.json plus DYNAMODB_ENDPOINT and CURSOR_SECRET, the tables
from the service's own definitions, then `reset_settings()`. Every PynamoDB call is counted
(`calls`). As deployed: no in-app rate limit (API Gateway throttles), request logs at INFO
(written to /dev/null while it runs).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from chalice.test import Client

from benchmarks.call_counter import DynamoDBCallCounter
from devtools.dynamodb_local import ROOT, DynamoDBLocal, free_port
from devtools.stage import stage_environment
from devtools.tables import ensure_tables, table_names


class RequestFailed(RuntimeError):
    pass


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class LocalStack:
    environment: dict[str, str]
    client: Client
    dynamodb: Any
    calls: DynamoDBCallCounter
    tenant_id: str
    tenant_key: str

    def rebind(self) -> None:
        """Forget settings, connections and the auth cache, as a new container starts."""
        _settings_reset()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = None,
        expect: int = 200,
    ) -> Answer:
        """Send a request with the tenant's key (or `key`); fail unless it answers `expect`."""
        headers = {"Authorization": f"Bearer {key or self.tenant_key}"}
        payload = b""
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body).encode()
        response = self.client.http.request(method, path, headers=headers, body=payload)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        if response.status_code != expect:
            raise RequestFailed(f"{method} {path}: {response.status_code} {text}")
        return Answer(response.status_code, dict(response.headers), json.loads(text or "null"))


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _stdout_discarded() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null (the service logs JSON lines to stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as sink:
        os.dup2(sink.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _settings_reset() -> None:
    from chalicelib.services import auth
    from chalicelib.settings import reset_settings

    reset_settings()
    auth.clear_cache()


@contextmanager
def local_stack(auth_cache_seconds: int = 5) -> Iterator[LocalStack]:  # the stage default
    with ExitStack() as cleanup:
        database = DynamoDBLocal(free_port()).start()
        cleanup.callback(database.stop)
        environment = stage_environment("local")
        environment.update(
            {
                "DYNAMODB_ENDPOINT": database.endpoint,
                "CURSOR_SECRET": secrets.token_urlsafe(48),
                "AUTH_CACHE_SECONDS": str(auth_cache_seconds),
                "POWERTOOLS_DEV": "false",
                "RATE_LIMIT_IN_APP": "false",
            }
        )
        cleanup.enter_context(_environment(environment))
        cleanup.enter_context(_stdout_discarded())
        dynamodb = boto3.session.Session().client(  # before the counter: not counted
            "dynamodb",
            endpoint_url=database.endpoint,
            region_name=environment["AWS_DEFAULT_REGION"],
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
            config=Config(parameter_validation=False),
        )
        ensure_tables(dynamodb, table_names(environment))
        calls = cleanup.enter_context(DynamoDBCallCounter().installed())
        cleanup.callback(_settings_reset)
        _settings_reset()

        from app import app
        from chalicelib.services.tenants import register_platform_key

        admin_secret = "crm_admin_bench_" + secrets.token_urlsafe(32)
        register_platform_key(admin_secret)
        client = cleanup.enter_context(Client(app, stage_name="local", project_dir=str(ROOT)))
        stack = LocalStack(environment, client, dynamodb, calls, tenant_id="", tenant_key="")
        tenant = stack.request(
            "POST",
            "/v1/admin/tenants",
            {"name": "Benchmark", "plan": "enterprise"},
            key=admin_secret,
            expect=201,
        ).body
        stack.tenant_id = tenant["id"]
        stack.tenant_key = tenant["api_key"]["key"]
        yield stack


def local_stream_runner(endpoint: str) -> Any:
    """The app's stream handlers over DynamoDB Local's streams at `endpoint`, in-process."""
    from devtools.stream_runner import LocalStreamRunner

    arguments = {
        "endpoint_url": endpoint,
        "region_name": os.environ["AWS_DEFAULT_REGION"],
        "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    return LocalStreamRunner(
        boto3.client("dynamodb", **arguments), boto3.client("dynamodbstreams", **arguments)
    )
