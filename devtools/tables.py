"""Creates the service's tables (from chalicelib.dal.schema) where they are missing, and
adds the indexes a table made by an older definition lacks."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.dal.schema import ALL_TABLES, TableSpec


def table_names(environment: dict[str, str]) -> dict[TableSpec, str]:
    """Each table's name, from the stage's environment (.chalice/config.json)."""
    return {spec: environment[spec.environment_variable] for spec in ALL_TABLES}


def ensure_tables(client: Any, names: dict[TableSpec, str]) -> list[str]:
    """Create each table that does not exist yet; answer the names created."""
    existing: set[str] = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    created = []
    for spec, name in names.items():
        if name in existing:
            add_missing_indexes(client, spec, name)
            continue
        client.create_table(**spec.create_table_request(name))
        client.get_waiter("table_exists").wait(TableName=name)
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
        created.append(name)
    return created


def add_missing_indexes(client: Any, spec: TableSpec, name: str) -> list[str]:
    """Create, one at a time (DynamoDB's rule), each index of `spec` the table lacks."""
    request = spec.create_table_request(name)
    definitions = {d["AttributeName"]: d for d in request["AttributeDefinitions"]}
    table = client.describe_table(TableName=name)["Table"]
    present = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    added = []
    for index in request.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in present:
            continue
        key_names = [element["AttributeName"] for element in index["KeySchema"]]
        client.update_table(
            TableName=name,
            AttributeDefinitions=[definitions[key] for key in key_names],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        _wait_until_active(client, name)
        added.append(index["IndexName"])
    return added


def _wait_until_active(client: Any, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = client.describe_table(TableName=name)["Table"]
        statuses = [index.get("IndexStatus") for index in table.get("GlobalSecondaryIndexes", [])]
        if table["TableStatus"] == "ACTIVE" and all(s == "ACTIVE" for s in statuses):
            return
        time.sleep(0.2)
    raise TimeoutError(f"table {name} did not become active in {timeout} s")
