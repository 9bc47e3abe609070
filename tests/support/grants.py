"""A function's DynamoDB calls checked against the data access infra grants it
(infra/access.py): every call a test makes the function do must be allowed by its role, or
the deployed function would fail with AccessDenied where moto and DynamoDB Local succeed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.call_counter import DynamoDBCall, tables_of
from chalicelib.dal.connection import dynamodb_client
from chalicelib.dal.schema import ALL_TABLES
from chalicelib.settings import get_settings
from infra.access import FUNCTION_ACCESS

# (table logical name, IAM action, index name or None)
Need = tuple[str, str, str | None]

_TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def _logical_names() -> dict[str, str]:
    """Table name → logical name, as the app's settings name the tables."""
    settings = get_settings()
    return {
        getattr(settings, spec.environment_variable.lower()): spec.logical_name
        for spec in ALL_TABLES
    }


def needs_of(call: DynamoDBCall, logical: dict[str, str]) -> set[Need]:
    """What IAM must allow for one call."""
    params = call.params
    if call.operation == "TransactWriteItems":
        return {
            (logical[body["TableName"]], _TRANSACTION_ACTIONS[kind], None)
            for item in params["TransactItems"]
            for kind, body in item.items()
        }
    if call.operation == "TransactGetItems":
        return {
            (logical[item["Get"]["TableName"]], "dynamodb:GetItem", None)
            for item in params["TransactItems"]
        }
    index = params.get("IndexName")
    return {(logical[table], f"dynamodb:{call.operation}", index) for table in call.tables}


def granted(function: str) -> set[Need]:
    allowed: set[Need] = set()
    for table in FUNCTION_ACCESS[function].tables:
        name = table.table.logical_name
        allowed |= {(name, action, None) for action in table.actions}
        for index_name, index in table.indexes.items():
            allowed |= {(name, action, index_name) for action in index.actions}
    return allowed


@contextmanager
def calls_granted_to(function: str, expect_calls: bool = True) -> Iterator[list[DynamoDBCall]]:
    """Records the block's DynamoDB calls (on the process's one client) and asserts, when it
    ends, that the function's role allows each of them (and that there were some, unless
    `expect_calls` is False)."""
    calls: list[DynamoDBCall] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append(DynamoDBCall(str(model.name), tables_of(params), dict(params)))

    logical = _logical_names()
    events = dynamodb_client().meta.events
    hook = f"calls_granted_to:{id(calls)}"
    events.register("provide-client-params.dynamodb", record, unique_id=hook)
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.dynamodb", unique_id=hook)
    missing = sorted(
        {need for call in calls for need in needs_of(call, logical)} - granted(function),
        key=str,
    )
    assert calls or not expect_calls, f"no DynamoDB call was recorded for {function}"
    assert missing == [], f"{function} is not granted {missing}"
