"""Binds the PynamoDB models to the configured tables, lazily, on first use, and gives
every model and transaction in the process one botocore session and one DynamoDB client.

PynamoDB builds a `Connection` per model class, each with its own botocore client (and,
left alone, its own session): on a cold start every model touched paid for a client of
its own (tens of milliseconds each). botocore clients are thread-safe once built, so one
client, built once under a lock, serves the models, the transactions, the raw Queries of
the DAL and the idempotency store alike.
Its connection pool is sized by the settings (`dynamodb_max_pool_connections`) for
the threads that call it at once.
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


def _table_name(model: type[Model], settings: Settings) -> str:
    """The table the base a model extends names."""
    from chalicelib.dal.models.base import AuditTableModel, ControlTableModel

    if issubclass(model, ControlTableModel):
        return settings.control_table
    if issubclass(model, AuditTableModel):
        return settings.audit_table
    return settings.data_table


def _connect(model: type[Model], settings: Settings, client: Any) -> None:
    """Point a model at its table and at the shared client."""
    model.Meta.table_name = _table_name(model, settings)
    model.Meta.region = settings.aws_region
    model.Meta.host = settings.dynamodb_endpoint
    model._connection = None
    # PynamoDB's own _get_connection (the models' override would bind again); its Connection
    # builds a client on first use unless it holds one.
    pynamodb_get_connection = vars(Model)["_get_connection"].__func__
    pynamodb_get_connection(model).connection._client = client


def _bind(settings: Settings) -> _Binding:
    """Point every item model defined so far at its table and at the one shared client;
    models defined later connect on first use (`connect_model`)."""
    from chalicelib.dal import metering
    from chalicelib.dal.models.base import AuditTableModel, ControlTableModel, DataTableModel

    metering.install()
    transactions = Connection(
        region=settings.aws_region,
        host=settings.dynamodb_endpoint,
        max_pool_connections=settings.dynamodb_max_pool_connections,
    )
    client = transactions.client
    for base in (DataTableModel, ControlTableModel, AuditTableModel):
        for model in _subclasses(base):
            _connect(model, settings, client)
    return _Binding(settings, transactions)


def connect_model(model: type[Model]) -> None:
    """Connect a model not connected yet (its submodule of chalicelib.dal.models was imported
    after the binding was made) to the current binding's table and client."""
    binding = _current_binding()
    if model.__dict__.get("_connection") is None:
        _connect(model, binding.settings, binding.client)


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
