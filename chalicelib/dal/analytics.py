"""Analytics: each customer's contribution item and the tenant's sharded counters.
See docs/data-model.md ("Analytics") for the keys and access patterns.

Counter items are moved only by `ADD` inside the transaction that also replaces the
customer's contribution under its version, so a delta is applied exactly once however
often the stream delivers the records that caused it."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer
from pynamodb.attributes import NumberAttribute
from pynamodb.expressions.operand import Path, Value
from pynamodb.expressions.update import Action

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings, transaction_connection
from chalicelib.dal.models import AnalyticsCounterItem, CustomerAnalyticsItem
from chalicelib.dal.transactions import ConditionsFailed, LabelledTransaction, commit_with_retry
from chalicelib.domain.analytics import Contribution, CounterDelta, Figures
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.tenancy import TenantId

CONTRIBUTION_ENTITY = "customer_analytics"
_NOT_FIGURES = frozenset({"pk", "sk", "entity", "tenant_shard", "tenant_item"})
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class StoredContribution:
    """A customer's contribution as stored, with the item's version (0: none yet)."""

    contribution: Contribution
    version: int


def _encode(contribution: Contribution) -> bytes:
    text = json.dumps(contribution.as_json(), sort_keys=True, separators=(",", ":"))
    return zlib.compress(text.encode(), 6)


def contribution_from_plain(item: dict[str, Any]) -> StoredContribution:
    """From the item as read by a raw Query (deserialised with boto3's TypeDeserializer)."""
    raw = item["contribution"]
    data = raw.value if isinstance(raw, Binary) else bytes(raw)
    document = json.loads(zlib.decompress(data))
    return StoredContribution(Contribution.from_json(document), int(item.get("version") or 0))


def _counter_sk(delta: CounterDelta) -> str:
    if delta.kind == "gauge":
        return keys.ANALYTICS_GAUGE_SK
    if delta.kind == "day":
        return keys.analytics_day_sk(delta.key)
    return keys.analytics_cohort_sk(delta.key)


class _ExactNumber(NumberAttribute):
    """A number written from its decimal text (NumberAttribute goes through json.dumps,
    which refuses Decimal): sums of money stay exact."""

    def serialize(self, value: Any) -> str:
        return str(Decimal(value))


def _add_actions(figures: Figures) -> list[Action]:
    number = _ExactNumber()
    actions: list[Action] = [AnalyticsCounterItem.entity.set("analytics_counter")]
    for name, value in sorted(figures.items()):
        actions.append(Path([name]).add(Value(value, attribute=number)))
    return actions


def contribution_writes(
    tenant: TenantId,
    customer_id: str,
    stored: StoredContribution,
    after: Contribution,
    deltas: list[CounterDelta],
    now: datetime,
) -> Callable[[LabelledTransaction], None]:
    """Adds to a transaction: the customer's contribution item (replaced under its
    version) and one `ADD` per changed counter item, on the customer's shard."""
    shard = keys.shard_of(customer_id, keys.ANALYTICS_SHARDS)

    def write(transaction: LabelledTransaction) -> None:
        item = CustomerAnalyticsItem(
            pk=keys.customer_pk(tenant, customer_id),
            sk=keys.CONTRIBUTION_SK,
            tenant_id=tenant,
            customer_id=customer_id,
            contribution=_encode(after),
            updated_at=now,
        )
        if stored.version:
            item.version = stored.version
        transaction.put(
            "analytics",
            item,
            condition=None if stored.version else CustomerAnalyticsItem.pk.does_not_exist(),
        )
        for delta in deltas:
            counter = AnalyticsCounterItem(
                pk=keys.analytics_pk(tenant, shard), sk=_counter_sk(delta)
            )
            transaction.update(
                f"counter:{delta.kind}:{delta.key}", counter, _add_actions(delta.figures)
            )

    return write


def commit_part(
    tenant: TenantId,
    customer_id: str,
    stored: StoredContribution,
    partial: Contribution,
    deltas: list[CounterDelta],
    now: datetime,
) -> StoredContribution:
    """Commit part of a change too large for one transaction: some counter deltas and the
    contribution that reflects exactly them. Raises ConcurrentModification when another
    refresh moved the contribution first."""
    bound_settings()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        contribution_writes(tenant, customer_id, stored, partial, deltas, now)(transaction)
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        raise ConcurrentModification("the customer's analytics changed; retry") from error
    return StoredContribution(partial, stored.version + 1)


# Reads: a bounded number of calls whatever the tenant's size.


def _figures(item: dict[str, Any]) -> Figures:
    return {
        name: Decimal(_deserializer.deserialize(value))
        for name, value in item.items()
        if name not in _NOT_FIGURES and "N" in value
    }


def _merge(into: Figures, figures: Figures) -> None:
    for name, value in figures.items():
        into[name] = into.get(name, Decimal(0)) + value


def read_gauges(tenant: TenantId) -> Figures:
    """The gauge item of every shard: one BatchGetItem (16 keys), plus a retry of any
    keys DynamoDB left unprocessed."""
    settings = bound_settings()
    client = transaction_connection().client
    request: dict[str, Any] = {
        settings.data_table: {
            "Keys": [
                {
                    "pk": {"S": keys.analytics_pk(tenant, shard)},
                    "sk": {"S": keys.ANALYTICS_GAUGE_SK},
                }
                for shard in range(keys.ANALYTICS_SHARDS)
            ]
        }
    }
    total: Figures = {}
    while request:
        answer = client.batch_get_item(RequestItems=request)
        for item in answer.get("Responses", {}).get(settings.data_table, []):
            _merge(total, _figures(item))
        request = answer.get("UnprocessedKeys") or {}
    return total


def _range(tenant: TenantId, lower: str, upper: str) -> Iterator[tuple[str, Figures]]:
    settings = bound_settings()
    client = transaction_connection().client
    for shard in range(keys.ANALYTICS_SHARDS):
        request: dict[str, Any] = {
            "TableName": settings.data_table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lower AND :upper",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.analytics_pk(tenant, shard)},
                ":lower": {"S": lower},
                ":upper": {"S": upper},
            },
        }
        while True:
            answer = client.query(**request)
            for item in answer.get("Items", []):
                yield item["sk"]["S"], _figures(item)
            start = answer.get("LastEvaluatedKey")
            if not start:
                break
            request["ExclusiveStartKey"] = start


def read_days(tenant: TenantId, first: str, last: str) -> dict[str, Figures]:
    """Daily figures from `first` to `last` (ISO days), shards summed: one Query per shard
    (16), each one page for any period up to a year."""
    rows: dict[str, Figures] = {}
    lower, upper = keys.analytics_day_sk(first), keys.analytics_day_sk(last)
    prefix = len(keys.analytics_day_sk(""))
    for sk, figures in _range(tenant, lower, upper):
        _merge(rows.setdefault(sk[prefix:], {}), figures)
    return rows


def read_cohorts(tenant: TenantId, first: str, last: str) -> dict[str, Figures]:
    """Cohort figures from month `first` to `last` (`yyyy-mm`): one Query per shard."""
    rows: dict[str, Figures] = {}
    lower, upper = keys.analytics_cohort_sk(first), keys.analytics_cohort_sk(last)
    prefix = len(keys.analytics_cohort_sk(""))
    for sk, figures in _range(tenant, lower, upper):
        _merge(rows.setdefault(sk[prefix:], {}), figures)
    return rows


def get_contribution(tenant: TenantId, customer_id: str) -> StoredContribution:
    """One customer's stored contribution (tests and diagnostics)."""
    bound_settings()
    try:
        item = CustomerAnalyticsItem.get(
            keys.customer_pk(tenant, customer_id), keys.CONTRIBUTION_SK, consistent_read=True
        )
    except CustomerAnalyticsItem.DoesNotExist:
        return StoredContribution(Contribution(), 0)
    document = json.loads(zlib.decompress(item.contribution))
    return StoredContribution(Contribution.from_json(document), int(item.version or 0))


# Shared with the campaign counters (chalicelib.dal.campaigns), which work the same way.
ExactNumber = _ExactNumber
figures_of = _figures
merge_figures = _merge
