"""Export and erasure over HTTP against DynamoDB Local (AWS's own engine), with the local
stream runner consuming the erasure's records."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from chalicelib.dal.schema import ALL_TABLES
from devtools.stage import stage_environment
from devtools.stream_runner import wait_until_drained
from tests.e2e.conftest import LocalStack
from tests.support.api import Api
from tests.support.personal_data import PERSONAL_VALUES, readable_item, write_customer


def _every_item(stack: LocalStack) -> Iterator[dict[str, Any]]:
    environment = stage_environment("local")
    client = stack.dynamodb_client()
    for spec in ALL_TABLES:
        table = environment[spec.environment_variable]
        for page in client.get_paginator("scan").paginate(TableName=table):
            yield from page["Items"]


def _personal_values(stack: LocalStack) -> set[str]:
    found: set[str] = set()
    for item in _every_item(stack):
        text = readable_item(item).lower()
        found |= {value for value in PERSONAL_VALUES if value in text}
    return found


def test_an_erased_customer_leaves_no_personal_value_in_dynamodb_local(
    stack: LocalStack, tenant_a: Api
) -> None:
    written = write_customer(tenant_a)
    path = f"/v1/customers/{written.id}"
    export = tenant_a.get(f"{path}/export")
    assert export.status == 200, export.text
    assert len(export.json["interactions"]) == len(written.interactions)
    assert _personal_values(stack)

    erased = tenant_a.delete(f"{path}?erase=true")
    wait_until_drained(stack.local_dir, since=time.time())

    assert erased.status == 204, erased.text
    assert _personal_values(stack) == set()
    tenant_a.get(path).problem(404)
    ticket = tenant_a.get(f"/v1/tickets/{written.tickets[0]['id']}").json
    assert (ticket["subject"], ticket["comment_count"]) == ("[erased]", 2)
    assert tenant_a.delete(f"{path}?erase=true").status == 204
