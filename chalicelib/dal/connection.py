"""Binds the PynamoDB models to the configured tables, lazily, on first use."""

from __future__ import annotations

from functools import lru_cache

from pynamodb.connection import Connection
from pynamodb.models import Model

from chalicelib.settings import Settings, get_settings

_bound_to: Settings | None = None


def _subclasses(base: type[Model]) -> list[type[Model]]:
    found = []
    for subclass in base.__subclasses__():
        found += [subclass, *_subclasses(subclass)]
    return found


def _bind(settings: Settings) -> None:
    """Point every item model at its table: the base a model extends names the table."""
    from chalicelib.dal import metering
    from chalicelib.dal.models import AuditTableModel, ControlTableModel, DataTableModel

    metering.install()

    tables: dict[type[Model], str] = {}
    for model in _subclasses(DataTableModel):
        tables[model] = settings.data_table
    for model in _subclasses(ControlTableModel):
        tables[model] = settings.control_table
    for model in _subclasses(AuditTableModel):
        tables[model] = settings.audit_table
    for model, table_name in tables.items():
        model.Meta.table_name = table_name
        model.Meta.region = settings.aws_region
        model.Meta.host = settings.dynamodb_endpoint
        model._connection = None


def bound_settings() -> Settings:
    """The settings the models are bound to; binds them the first time (or after a reset)."""
    global _bound_to
    settings = get_settings()
    if _bound_to is not settings:
        _bind(settings)
        _bound_to = settings
        transaction_connection.cache_clear()
    return settings


@lru_cache(maxsize=1)
def transaction_connection() -> Connection:
    settings = get_settings()
    return Connection(region=settings.aws_region, host=settings.dynamodb_endpoint)
