"""TransactWriteItems with labelled items, so a cancellation names what failed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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
from chalicelib.domain.errors import ConcurrentModification, InvalidValue

MAX_TRANSACTION_ATTEMPTS = 4
MAX_TRANSACTION_ACTIONS = 100
ItemKey = tuple[str, Any, Any]
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

    @property
    def item_keys(self) -> set[ItemKey]:
        """The items the transaction names, as (table, hash key, range key): one
        TransactWriteItems may not name an item twice."""
        checked = {
            (model.Meta.table_name, hash_key, range_key)
            for _, model, hash_key, range_key, _ in self._checks
        }
        written: list[Model] = [
            *(item for _, item, _ in self._deletes),
            *(item for _, item, _, _ in self._puts),
            *(item for _, item, _, _ in self._updates),
        ]
        return checked | {
            (type(item).Meta.table_name, *item._get_hash_range_key_serialized_values())
            for item in written
        }

    @classmethod
    def combined(
        cls, parts: Sequence[LabelledTransaction]
    ) -> tuple[LabelledTransaction, list[int]]:
        """One transaction of all the writes of `parts`, and for each of its labels (in
        `labels` order) the position of the part it came from."""
        whole = cls()
        checks: list[int] = []
        deletes: list[int] = []
        puts: list[int] = []
        updates: list[int] = []
        for position, part in enumerate(parts):
            whole._checks += part._checks
            whole._deletes += part._deletes
            whole._puts += part._puts
            whole._updates += part._updates
            checks += [position] * len(part._checks)
            deletes += [position] * len(part._deletes)
            puts += [position] * len(part._puts)
            updates += [position] * len(part._updates)
        return whole, checks + deletes + puts + updates

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


def _packed(parts: dict[int, LabelledTransaction]) -> list[list[int]]:
    """The parts in transactions of at most MAX_TRANSACTION_ACTIONS actions that name no
    item twice, in the order given (a part that fits in none so far starts another)."""
    groups: list[list[int]] = []
    sizes: list[int] = []
    named: list[set[ItemKey]] = []
    for index, part in parts.items():
        size, keys = len(part.labels), part.item_keys
        fits = next(
            (
                n
                for n in range(len(groups))
                if sizes[n] + size <= MAX_TRANSACTION_ACTIONS and not keys & named[n]
            ),
            None,
        )
        if fits is None:
            groups.append([])
            sizes.append(0)
            named.append(set())
            fits = len(groups) - 1
        groups[fits].append(index)
        sizes[fits] += size
        named[fits] |= keys
    return groups


def commit_grouped(builds: Sequence[Callable[[], LabelledTransaction]]) -> list[bool]:
    """Commit independent writes (each of `builds` is one transaction's worth, e.g. one
    customer's) in as few TransactWriteItems as they fit into, one after the other, in the
    order given; answers, per build, whether it was committed.

    A cancelled transaction writes nothing. Its parts that the cancellation reasons name
    (a condition of their own failed, a conflicting write) are not committed; its other
    parts are committed again at once, together (built afresh, as in commit_with_retry),
    so an earlier part keeps its precedence over a later one naming the same item. A
    transaction refused without reasons (a value DynamoDB refuses) commits none of its
    parts. The caller commits the parts not committed one at a time (`commit_with_retry`),
    which names each one's own failure.
    """
    committed = [False] * len(builds)
    parts = {index: build() for index, build in enumerate(builds)}
    for group in _packed(parts):
        members = group
        for _ in range(MAX_TRANSACTION_ATTEMPTS):
            done, retry = _commit_group(parts, members)
            for index in done:
                committed[index] = True
            if not retry:
                break
            parts.update({index: builds[index]() for index in retry})
            members = retry
    return committed


def _commit_group(
    parts: dict[int, LabelledTransaction], group: list[int]
) -> tuple[list[int], list[int]]:
    """Commit the parts of `group` as one transaction: answers those committed, and those to
    try again (parts of a cancelled transaction its cancellation reasons do not name)."""
    transaction, owners = LabelledTransaction.combined([parts[index] for index in group])
    try:
        transaction.commit()
    except InvalidValue:
        return [], []
    except TransactWriteError as exc:
        named = {
            group[owners[position]]
            for position, reason in enumerate(exc.cancellation_reasons or [])
            if reason is not None and position < len(owners)
        }
        return [], [index for index in group if named and index not in named]
    return group, []
