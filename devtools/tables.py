"""Creates the service's tables (from chalicelib.dal.schema) where they are missing."""

from __future__ import annotations

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
            continue
        client.create_table(**spec.create_table_request(name))
        client.get_waiter("table_exists").wait(TableName=name)
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
        created.append(name)
    return created
