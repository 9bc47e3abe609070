"""In-process: the Chalice test client against moto's DynamoDB."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.dal import control
from chalicelib.domain.clock import utc_now
from chalicelib.domain.tenancy import Role, issue_key, tenant_id
from chalicelib.services import auth
from chalicelib.services.tenants import register_platform_key
from chalicelib.settings import reset_settings
from devtools.stage import stage_environment
from tests.support.api import Answer, Api
from tests.support.grants import calls_granted_to
from tests.support.tables import create_tables

ADMIN_SECRET = "crm_admin_test_" + "x" * 40


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    env = stage_environment("local")
    keys = tmp_path_factory.mktemp("audit-key")
    env.update(
        {
            "CURSOR_SECRET": "test-cursor-secret-" + "y" * 32,
            "AUDIT_SIGNING_KEY_FILE": str(keys / "audit-signing-key.pem"),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AUTH_CACHE_SECONDS": "0",
            "RATE_LIMIT_IN_APP": "false",
            "WEBHOOK_BACKOFF_SECONDS": "0",  # a failed delivery is received again at once
            "IMPORTS_DIR": str(tmp_path_factory.mktemp("imports")),
            # A merge request hands what it did not finish within its budget (10 s) to the
            # merge queue, which most tests do not run: on a loaded machine a large merge
            # would outlast it. Tests of the queue (test_merge_background.py) set 0.
            "MERGE_REQUEST_BUDGET_SECONDS": "600",
        }
    )
    monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
    monkeypatch.delenv("GATEWAY_USAGE_PLANS", raising=False)  # local: no API Gateway keys
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    auth.clear_cache()
    yield env
    reset_settings()
    auth.clear_cache()


@pytest.fixture
def dynamodb(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    # moto's backend is not thread-safe: parallel requests can lose a write. A batch's
    # customers therefore run one at a time here (still on a worker thread, as in Lambda);
    # the parallel path runs against DynamoDB Local in tests/e2e.
    from chalicelib.services import loyalty

    monkeypatch.setattr(loyalty, "BATCH_WORKERS", 1)
    _transactions_atomic_across_threads(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=environment["AWS_DEFAULT_REGION"])
        create_tables(client, environment)
        yield client


def _transactions_atomic_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies a TransactWriteItems atomically; moto checks its conditions and
    writes its items without a lock, so two threads' transactions can both pass a condition
    only one of them should (tests of concurrent writers, such as the audit chain's, would
    see a fork that DynamoDB never makes). One lock makes moto's transactions atomic."""
    from moto.dynamodb.models import DynamoDBBackend

    transact = DynamoDBBackend.transact_write_items
    lock = threading.Lock()

    def atomic(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with lock:
            transact(self, transact_items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", atomic)


@pytest.fixture
def client(dynamodb: object) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="local") as test_client:
        for name in ("CONTROL_TABLE", "DATA_TABLE"):
            assert os.environ[name]
        yield test_client


def _transport(test_client: Client):  # type: ignore[no-untyped-def]
    def send(method: str, path: str, headers: dict[str, str], body: bytes | None) -> Answer:
        with calls_granted_to("APIHandler", expect_calls=False):
            response = test_client.http.request(method, path, headers=headers, body=body or b"")
        return Answer(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            text=response.body.decode() if isinstance(response.body, bytes) else response.body,
        )

    return send


@pytest.fixture
def anonymous(client: Client) -> Api:
    return Api(_transport(client))


@pytest.fixture
def platform(anonymous: Api) -> Api:
    register_platform_key(ADMIN_SECRET)
    return anonymous.as_key(ADMIN_SECRET)


@pytest.fixture
def tenant_a(platform: Api) -> Api:
    return platform.create_tenant("Tenant A")


@pytest.fixture
def tenant_b(platform: Api) -> Api:
    return platform.create_tenant("Tenant B")


@pytest.fixture
def key_with_role(platform: Api) -> Callable[[Api, str], Api]:
    """A client holding a new key of `role` for the tenant `owner` belongs to; for role
    `customer`, a customer token (minted by a new app key) for a new customer."""

    def make(owner: Api, role: str) -> Api:
        if role == "customer":
            return owner.create_key("app")[0].as_customer(
                owner.create_customer(name="Holder")["id"]
            )
        assert owner.tenant_id is not None
        tenant = control.get_tenant(tenant_id(owner.tenant_id))
        assert tenant is not None
        issued = issue_key(Role(role), tenant.id, utc_now(), label=role, owner=tenant)
        control.insert_api_key(issued.record)
        return owner.as_key(issued.secret, owner.tenant_id)

    return make


@pytest.fixture
def streams(
    dynamodb: object, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[object]:
    """The local stream runner over moto's streams and SQS: `streams.drain()` runs the app's
    stream handlers over everything written so far, and the webhook queue's consumer over
    every message they queued."""
    from devtools.stream_runner import LocalStreamRunner, local_queues

    region = environment["AWS_DEFAULT_REGION"]
    sqs = boto3.client("sqs", region_name=region)
    for name, value in local_queues(sqs).items():
        monkeypatch.setenv(name, value)
        environment[name] = value
    reset_settings()
    yield LocalStreamRunner(
        boto3.client("dynamodb", region_name=region),
        boto3.client(
            "dynamodbstreams",
            region_name=region,
            # botocore would otherwise address an account endpoint that moto does not serve
            endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com",
        ),
        environ=dict(environment),
        sqs=sqs,
        # every handler's DynamoDB calls must be within what infra grants its function
        invocation_guard=lambda function: calls_granted_to(function, expect_calls=False),
    )


@pytest.fixture
def customer_token() -> Callable[[Api, str], Api]:
    """A client holding a customer token for `customer_id`, minted by a new app key of the
    tenant `owner` belongs to."""

    def make(owner: Api, customer_id: str) -> Api:
        return owner.create_key("app")[0].as_customer(customer_id)

    return make
