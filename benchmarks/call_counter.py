"""Counts the DynamoDB calls the service makes, with a botocore event hook.

PynamoDB builds a botocore session per connection, and its client lazily from it. While the
counter is installed, every botocore session created registers a
`provide-client-params.dynamodb` handler (it is added to botocore's list of built-in
handlers, which each new session registers), and botocore fires that event once per API
call (retries of one call are not counted again). Sessions made before installation are not
seen: install first, then reset the settings so the models bind new connections; make a
client that must not be counted (a baseline's) from a session created before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore import handlers

READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


@dataclass(frozen=True)
class DynamoDBCall:
    operation: str
    tables: tuple[str, ...]
    params: dict[str, Any]

    @property
    def label(self) -> str:
        """The operation and the kinds of item it touches: `GetItem APIKEY`,
        `TransactWriteItems (Put CUS, 2 x Put TAG)`."""
        if "TransactItems" in self.params:
            actions = Counter(
                f"{action} {key_kind(_pk(body))}"
                for item in self.params["TransactItems"]
                for action, body in item.items()
            )
            listed = ", ".join(
                f"{count} x {action}" if count > 1 else action for action, count in actions.items()
            )
            return f"{self.operation} ({listed})"
        pk = _pk(self.params)
        return f"{self.operation} {key_kind(pk)}" if pk else self.operation


def _pk(request: dict[str, Any]) -> str:
    key = request.get("Key") or request.get("Item") or {}
    return str(key.get("pk", {}).get("S", ""))


def key_kind(pk: str) -> str:
    """The kind of item a partition key names: `CUS` for `T#{tenant}#CUS#{id}` (tenant data),
    `APIKEY` for `APIKEY#{hash}` (control plane)."""
    parts = pk.split("#")
    return parts[2] if parts[0] == "T" and len(parts) > 2 else parts[0]


def tables_of(params: dict[str, Any]) -> tuple[str, ...]:
    """The tables one request names: TableName, each transaction item's, or a batch's keys."""
    if "TableName" in params:
        return (str(params["TableName"]),)
    if "TransactItems" in params:
        return tuple(
            str(action["TableName"]) for item in params["TransactItems"] for action in item.values()
        )
    return tuple(str(name) for name in params.get("RequestItems", {}))


class DynamoDBCallCounter:
    def __init__(self) -> None:
        self.calls: list[DynamoDBCall] = []
        self.clients_created = 0

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append(DynamoDBCall(str(model.name), tables_of(params), dict(params)))

    def _client_created(self, **_: Any) -> None:
        self.clients_created += 1

    @contextmanager
    def installed(self) -> Iterator[DynamoDBCallCounter]:
        specs = [
            ("provide-client-params.dynamodb", self._record),
            ("creating-client-class.dynamodb", self._client_created),
        ]
        handlers.BUILTIN_HANDLERS.extend(specs)
        try:
            yield self
        finally:
            for spec in specs:
                handlers.BUILTIN_HANDLERS.remove(spec)

    @contextmanager
    def recording(self) -> Iterator[list[DynamoDBCall]]:
        """The calls made inside the block (filled in when the block ends)."""
        made: list[DynamoDBCall] = []
        start = len(self.calls)
        try:
            yield made
        finally:
            made.extend(self.calls[start:])
