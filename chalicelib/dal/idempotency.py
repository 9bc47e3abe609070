"""Powertools Idempotency's DynamoDB persistence layer, built on first use (not at import,
so cold starts stay short and tests can set the environment first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

_store: tuple[Settings, DynamoDBPersistenceLayer] | None = None


def persistence_store() -> DynamoDBPersistenceLayer:
    """The persistence layer for the current settings (rebuilt when they change)."""
    global _store
    settings = get_settings()
    if _store is None or _store[0] is not settings:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        from chalicelib.dal.connection import dynamodb_client

        # The process's shared client: no session or client of its own to build.
        _store = (
            settings,
            DynamoDBPersistenceLayer(
                table_name=settings.idempotency_table, boto3_client=dynamodb_client()
            ),
        )
    return _store[1]
