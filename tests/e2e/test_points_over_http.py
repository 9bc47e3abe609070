"""Points over HTTP against DynamoDB Local: concurrent redemptions never overdraw."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.conftest import LocalStack, start_stack
from tests.support.api import Answer, Api, Transport


def _patient_transport(base_url: str) -> Transport:
    """Waits up to 120 s: fifty racing requests share one `chalice local` process and two
    busy cores."""
    session = requests.Session()

    def send(method: str, path: str, headers: dict[str, str], body: bytes | None) -> Answer:
        response = session.request(method, base_url + path, headers=headers, data=body, timeout=120)
        return Answer(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            text=response.text,
        )

    return send


@pytest.fixture(scope="module")
def racing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of its own: the race loads it hard, and no other test should share that."""
    running = start_stack(tmp_path_factory.mktemp("racing"))
    yield running
    try:
        running.stop()
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


@pytest.fixture
def racer(racing_stack: LocalStack) -> Api:
    platform = Api(_patient_transport(racing_stack.base_url), racing_stack.admin_key)
    return platform.create_tenant("Racers", plan="enterprise")


def _send_until_answered(send: Callable[[], Answer]) -> Answer:
    """A client retries a connection error or an answer that the same key's first request
    is still in progress with the same Idempotency-Key, which is exactly what the key makes
    safe."""
    for attempt in range(10):
        try:
            answer = send()
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.05 * (attempt + 1))
            continue
        if answer.status != 409 or "in-progress" not in answer.text:
            return answer
        time.sleep(0.05 * (attempt + 1))
    raise AssertionError("no answer after 10 attempts")


def test_fifty_parallel_redemptions_of_one_point_against_ten_leave_ten_successes(
    racer: Api,
) -> None:
    customer = racer.create_customer(name="Spender")["id"]
    earned = racer.post(
        f"/v1/customers/{customer}/interactions",
        {"type": "purchase", "amount": "10", "currency": "EUR", "order_id": "o-10"},
    )
    assert earned.status == 201, earned.text

    def redeem(i: int) -> int:
        answer = _send_until_answered(
            lambda: racer.post(
                f"/v1/customers/{customer}/points/redeem",
                {"points": 1, "reason": f"race {i}"},
                headers={"Idempotency-Key": f"race-{i}"},
            )
        )
        if answer.status != 201:
            assert answer.problem(409)["type"].endswith("insufficient-points"), answer.text
        return answer.status

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(redeem, range(50)))

    assert statuses.count(201) == 10 and statuses.count(409) == 40
    points = racer.get(f"/v1/customers/{customer}/points").json
    assert points["balance"] == 0
    ledger = racer.get(f"/v1/customers/{customer}/points/transactions?limit=100").json
    assert [e["type"] for e in ledger["items"]].count("redeem") == 10
    assert sorted(e["balance_after"] for e in ledger["items"] if e["type"] == "redeem") == list(
        range(10)
    )


def test_a_purchase_is_recorded_once_however_often_it_is_sent(tenant_a: Api) -> None:
    customer = tenant_a.create_customer(name="Buyer")["id"]
    body = {"type": "purchase", "amount": "42.50", "currency": "EUR", "order_id": "o-dup"}

    def send(i: int) -> str:
        answer = tenant_a.post(f"/v1/customers/{customer}/interactions", body)
        assert answer.status == 201, answer.text
        return str(answer.json["id"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = set(pool.map(send, range(6)))

    assert len(ids) == 1
    assert tenant_a.get(f"/v1/customers/{customer}/points").json["balance"] == 42
    timeline = tenant_a.get(f"/v1/customers/{customer}/interactions").json["items"]
    assert [i["id"] for i in timeline] == list(ids)
