"""Test tables made from the service's own table definitions."""

from __future__ import annotations

from typing import Any

from devtools.tables import ensure_tables, table_names


def create_tables(client: Any, environment: dict[str, str]) -> None:
    ensure_tables(client, table_names(environment))


def count_items(client: Any, table: str, prefix: str) -> int:
    """Test-only census of a table (a Scan is fine here: never on a request path)."""
    total = 0
    for page in client.get_paginator("scan").paginate(TableName=table):
        total += sum(1 for item in page["Items"] if item["pk"]["S"].startswith(prefix))
    return total
