"""A Chalice app whose two stream consumers only note what they are given: tests of the
local stream runner (devtools/stream_runner.py) load it as its `app_module`.

Both read the data table's stream, as `keep_customers_current` and `record_data_changes`
do. What each does with a batch is set by the test through `BEHAVIOUR` (default: succeed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Chalice

from chalicelib.streams_config import stream_arn_placeholder

app = Chalice(app_name="stream-runner-test")

# Each consumer's invocations, in order: the keys of the records of each batch it was given.
INVOCATIONS: dict[str, list[list[str]]] = {"first_reader": [], "second_reader": []}

# Per consumer, what to do with a batch (the record keys): answer the keys that failed.
BEHAVIOUR: dict[str, Callable[[list[str]], list[str]]] = {}


def reset() -> None:
    for invocations in INVOCATIONS.values():
        invocations.clear()
    BEHAVIOUR.clear()


def delivered(consumer: str) -> list[str]:
    return [key for batch in INVOCATIONS[consumer] for key in batch]


def _handle(consumer: str, event: Any) -> dict[str, Any]:
    records = event.to_dict()["Records"]
    keys = [record["dynamodb"]["Keys"]["sk"]["S"] for record in records]
    INVOCATIONS[consumer].append(keys)
    failed = set(BEHAVIOUR.get(consumer, lambda _keys: [])(keys))
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["dynamodb"]["SequenceNumber"]}
            for record, key in zip(records, keys, strict=True)
            if key in failed
        ]
    }


@app.on_dynamodb_record(stream_arn=stream_arn_placeholder("Data"), name="first_reader")
def first_reader(event: Any) -> dict[str, Any]:
    return _handle("first_reader", event)


@app.on_dynamodb_record(stream_arn=stream_arn_placeholder("Data"), name="second_reader")
def second_reader(event: Any) -> dict[str, Any]:
    return _handle("second_reader", event)
