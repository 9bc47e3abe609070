"""Local tables made by an older table definition gain the indexes added since."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
from moto import mock_aws

from chalicelib.dal.schema import DATA_TABLE
from devtools.tables import ensure_tables


def _indexes(client: Any, name: str) -> set[str]:
    table = client.describe_table(TableName=name)["Table"]
    return {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}


def test_an_existing_table_gains_the_missing_indexes() -> None:
    with mock_aws():
        # Given a data table created when it had gsi1 only
        client = boto3.client("dynamodb", region_name="us-east-1")
        older = replace(DATA_TABLE, indexes=DATA_TABLE.indexes[:1])
        client.create_table(**older.create_table_request("data-old"))

        # When the tables are ensured from today's definition
        created = ensure_tables(client, {DATA_TABLE: "data-old"})

        # Then nothing is recreated and every index exists
        assert created == []
        assert _indexes(client, "data-old") == {index.name for index in DATA_TABLE.indexes}
        assert ensure_tables(client, {DATA_TABLE: "data-old"}) == []
