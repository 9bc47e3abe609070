"""Binds the PynamoDB models to the configured tables, lazily, on first use, and gives
every model and transaction in the process one botocore session and one DynamoDB client.

PynamoDB builds a `Connection` per model class, each with its own botocore client (and,
left alone, its own session): on a cold start every model touched paid for a client of
its own (tens of milliseconds each). botocore clients are thread-safe once built, so one
client, built once under a lock, serves the models, the transactions, the raw Queries of
the DAL and the idempotency store alike.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from pynamodb.connection import Connection
from pynamodb.models import Model

from chalicelib.settings import Settings, get_settings


@dataclass(frozen=True)
class _Binding:
    settings: Settings
    transactions: Connection
    """Also the owner of the shared client (PynamoDB's client settings, metered session)."""

    @property
    def client(self) -> Any:
        return self.transactions.client


_binding: _Binding | None = None
_binding_lock = threading.Lock()


def _subclasses(base: type[Model]) -> list[type[Model]]:
    found = []
    for subclass in base.__subclasses__():
        found += [subclass, *_subclasses(subclass)]
    return found


def _bind(settings: Settings) -> _Binding:
    """Point every item model at its table (the base a model extends names the table) and
    at the one shared client."""
    from chalicelib.dal import merge_models, metering
    from chalicelib.dal.models import AuditTableModel, ControlTableModel, DataTableModel

    metering.install()
    del merge_models  # imported so that its item models are bound with the others
    transactions = Connection(region=settings.aws_region, host=settings.dynamodb_endpoint)
    client = transactions.client

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
        # PynamoDB's Connection builds its client on first use unless it holds one.
        model._get_connection().connection._client = client
    return _Binding(settings, transactions)


def _current_binding() -> _Binding:
    """The binding for the current settings; made the first time (or after a reset)."""
    global _binding
    settings = get_settings()
    binding = _binding
    if binding is None or binding.settings is not settings:
        with _binding_lock:
            if _binding is None or _binding.settings is not settings:
                _binding = _bind(settings)
            binding = _binding
    return binding


def bound_settings() -> Settings:
    """The settings the models are bound to; binds them the first time (or after a reset)."""
    return _current_binding().settings


def transaction_connection() -> Connection:
    """The PynamoDB connection for TransactWrite/TransactGet; its client is the shared one."""
    return _current_binding().transactions


def dynamodb_client() -> Any:
    """The process's one botocore DynamoDB client (for callers outside PynamoDB)."""
    return _current_binding().client
