from __future__ import annotations

import boto3
import pytest

from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api


@pytest.fixture
def streams(dynamodb: object, environment: dict[str, str]) -> LocalStreamRunner:
    region = environment["AWS_DEFAULT_REGION"]
    return LocalStreamRunner(
        boto3.client("dynamodb", region_name=region),
        boto3.client(
            "dynamodbstreams",
            region_name=region,
            endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com",
        ),
        environ=dict(environment),
    )


def test_smoke(tenant_a: Api, streams: LocalStreamRunner) -> None:
    customer = tenant_a.create_customer(name="Ann")
    answer = tenant_a.post(
        f"/v1/customers/{customer['id']}/interactions",
        {"type": "purchase", "amount": "12.50", "currency": "EUR", "order_id": "o1"},
    )
    assert answer.status == 201, answer.text
    streams.drain()
    print(streams.records_processed, streams.failures)
    from chalicelib.dal import segments
    from chalicelib.domain.tenancy import tenant_id

    state = segments.get_state(tenant_id(tenant_a.tenant_id or ""), customer["id"])
    print(state)
    assert state is not None


def test_direct(tenant_a: Api) -> None:
    customer = tenant_a.create_customer(name="Ann")
    from chalicelib.domain.clock import utc_now
    from chalicelib.domain.tenancy import tenant_id
    from chalicelib.services import segments

    t = tenant_id(tenant_a.tenant_id or "")
    segments.refresh_customer(t, customer["id"], segments.tenant_rules(t), utc_now().date())
