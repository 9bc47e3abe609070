"""TransactWriteItems with labelled items, so a cancellation names what failed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.dal.connection import transaction_connection
from chalicelib.dal.invalid_values import refused_values_as_invalid, update_images
from chalicelib.dal.models import DataTableModel
from chalicelib.domain.errors import ConcurrentModification

MAX_TRANSACTION_ATTEMPTS = 4
T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """One item whose condition failed; `old_item` is its stored image when DynamoDB sent it."""

    label: str
    old_item: dict[str, Any] | None


@dataclass
class LabelledTransaction:
    """Collects writes in the order PynamoDB sends them (condition checks, deletes, puts,
    then updates)."""

    _checks: list[tuple[str, type[Model], str, str | None, Condition]] = field(default_factory=list)
    _deletes: list[tuple[str, Model, Condition | None]] = field(default_factory=list)
    _puts: list[tuple[str, Model, Condition | None, str | None]] = field(default_factory=list)
    _updates: list[tuple[str, Model, list[Action], Condition | None]] = field(default_factory=list)

    def check(
        self,
        label: str,
        model: type[Model],
        hash_key: str,
        range_key: str | None,
        condition: Condition,
    ) -> None:
        """A condition on an item the transaction does not write."""
        self._checks.append((label, model, hash_key, range_key, condition))

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._deletes.append((label, item, condition))

    def put(
        self,
        label: str,
        item: Model,
        condition: Condition | None = None,
        return_old_on_failure: bool = False,
    ) -> None:
        self._puts.append((label, item, condition, "ALL_OLD" if return_old_on_failure else None))

    def update(
        self, label: str, item: Model, actions: list[Action], condition: Condition | None = None
    ) -> None:
        if isinstance(item, DataTableModel):
            actions = actions + item.tenant_index_actions()
        self._updates.append((label, item, actions, condition))

    @property
    def labels(self) -> list[str]:
        entries: list[tuple[Any, ...]] = [
            *self._checks,
            *self._deletes,
            *self._puts,
            *self._updates,
        ]
        return [entry[0] for entry in entries]

    def commit(self) -> None:
        for _, item, _ in self._deletes:
            if isinstance(item, DataTableModel):
                item.attribute_delete()
        with (
            refused_values_as_invalid(self._images),
            TransactWrite(connection=transaction_connection()) as transaction,
        ):
            for _, model, hash_key, range_key, check in self._checks:
                transaction.condition_check(model, hash_key, range_key, condition=check)
            for _, item, condition in self._deletes:
                transaction.delete(item, condition=condition)
            for _, item, condition, return_values in self._puts:
                transaction.save(item, condition=condition, return_values=return_values)
            for _, item, actions, condition in self._updates:
                transaction.update(item, actions, condition=condition, add_version_condition=False)

    def _images(self) -> list[dict[str, Any]]:
        puts = [item.serialize(null_check=False) for _, item, _, _ in self._puts]
        return puts + [update_images(actions) for _, _, actions, _ in self._updates]


class ConditionsFailed(Exception):
    def __init__(self, failures: list[Failure]) -> None:
        super().__init__(", ".join(failure.label for failure in failures))
        self.failures = failures


def commit_with_retry(build: Callable[[], LabelledTransaction]) -> None:
    """Commit, retrying DynamoDB's transaction conflicts with a short backoff.

    `build` is called afresh for every attempt (PynamoDB bumps local versions on commit).
    Raises ConditionsFailed naming the items whose conditions did not hold.
    """
    for attempt in range(MAX_TRANSACTION_ATTEMPTS):
        transaction = build()
        try:
            transaction.commit()
            return
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons or []
            failures = [
                Failure(label, reason.raw_item)
                for label, reason in zip(transaction.labels, reasons, strict=False)
                if reason is not None and reason.code == "ConditionalCheckFailed"
            ]
            if failures:
                raise ConditionsFailed(failures) from exc
            conflicted = any(r is not None and r.code == "TransactionConflict" for r in reasons)
            if not conflicted:
                raise
            time.sleep(0.02 * (2**attempt))
    raise ConcurrentModification("the record is being changed by another request; retry")
