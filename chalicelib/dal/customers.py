"""Customer repository: profiles, their unique claims and tag listings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import Any

from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import TransactWriteError

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings, dynamodb_client
from chalicelib.dal.cursors import page_of
from chalicelib.dal.models import (
    CounterItem,
    CustomerItem,
    SegmentStateItem,
    TagItem,
    UniqueItem,
)
from chalicelib.dal.transactions import (
    MAX_TRANSACTION_ACTIONS,
    MAX_TRANSACTION_ATTEMPTS,
    ConditionsFailed,
    LabelledTransaction,
    commit_with_retry,
)
from chalicelib.domain.clock import sortable_timestamp
from chalicelib.domain.customers import Address, Consent, Customer, Gender, UniqueField
from chalicelib.domain.errors import (
    ConcurrentModification,
    InvalidValue,
    QuotaExceeded,
    UniqueConflict,
)
from chalicelib.domain.metrics import CustomerMetrics
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId
from chalicelib.parallel import run_all

GROUP_WORKERS = 4
"""Threads committing one call's groups of customer writes (`write_customers`)."""
_CUSTOMER_LABEL = "customer"
_QUOTA_LABEL = "quota:customers"


def _unique_label(field: UniqueField) -> str:
    return f"unique:{field.value}"


def _to_item(tenant: TenantId, customer: Customer, version: int | None) -> CustomerItem:
    item = CustomerItem(
        pk=keys.customer_pk(tenant, customer.id),
        sk=keys.PROFILE_SK,
        gsi1pk=keys.customers_by_created_pk(tenant),
        gsi1sk=keys.created_sort_key(sortable_timestamp(customer.created_at), customer.id),
        tenant_id=tenant,
        customer_id=customer.id,
        external_id=customer.external_id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        birthday=customer.birthday.isoformat() if customer.birthday else None,
        gender=customer.gender.value if customer.gender else None,
        address=_without_nones(vars(customer.address)) if customer.address else None,
        tags=set(customer.tags) or None,
        custom_attributes=dict(customer.attributes) or None,
        consent=vars(customer.consent),
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )
    if version is not None:
        item.version = version
    return item


def _without_nones(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _as_dict(value: MapAttribute[Any, Any] | None) -> dict[str, Any]:
    return value.as_dict() if value is not None else {}


def _to_customer(item: CustomerItem) -> Customer:
    address = _as_dict(item.address)
    return Customer(
        id=item.customer_id,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
        external_id=item.external_id,
        name=item.name,
        email=item.email,
        phone=item.phone,
        birthday=date.fromisoformat(item.birthday) if item.birthday else None,
        gender=Gender(item.gender) if item.gender else None,
        address=Address(**address) if address else None,
        tags=frozenset(item.tags or ()),
        attributes=_as_dict(item.custom_attributes),
        consent=Consent(**_as_dict(item.consent)),
    )


def _unique_item(tenant: TenantId, field: UniqueField, value: str, customer_id: str) -> UniqueItem:
    return UniqueItem(
        pk=keys.unique_pk(tenant, field, value),
        sk=keys.UNIQUE_SK,
        tenant_id=tenant,
        field=field.value,
        customer_id=customer_id,
    )


def _tag_item(tenant: TenantId, tag: str, customer: Customer) -> TagItem:
    return TagItem(
        pk=keys.tag_pk(tenant, tag),
        sk=keys.created_sort_key(sortable_timestamp(customer.created_at), customer.id),
        tenant_id=tenant,
        tag=tag,
        customer_id=customer.id,
    )


def _counter(tenant: TenantId) -> CounterItem:
    return CounterItem(pk=keys.customer_counter_pk(tenant), sk=keys.CUSTOMER_COUNTER_SK)


def _add_insert(
    transaction: LabelledTransaction, tenant: TenantId, customer: Customer, prefix: str = ""
) -> None:
    """The writes of a new customer, less its count: profile, claims, tag listings."""
    transaction.put(f"{prefix}{_CUSTOMER_LABEL}", _to_item(tenant, customer, version=None))
    for field, value in customer.unique_values().items():
        transaction.put(
            f"{prefix}{_unique_label(field)}",
            _unique_item(tenant, field, value, customer.id),
            condition=UniqueItem.pk.does_not_exist(),
            return_old_on_failure=True,
        )
    for tag in sorted(customer.tags):
        transaction.put(f"{prefix}tag:{tag}", _tag_item(tenant, tag, customer))


def _add_count(
    transaction: LabelledTransaction, tenant: TenantId, added: int, max_customers: int | None
) -> None:
    """Count `added` new customers, only while the count stays within `max_customers`."""
    room = None
    if max_customers is not None:
        room = CounterItem.value.does_not_exist() | (CounterItem.value <= max_customers - added)
    transaction.update(_QUOTA_LABEL, _counter(tenant), [CounterItem.value.add(added)], room)


def insert_customer(tenant: TenantId, customer: Customer, max_customers: int | None) -> Customer:
    """Write a new customer, claim its unique values and count it, all or nothing.

    The count is one item per tenant, so customer creation per tenant is bounded by what one
    item takes (about 1,000 writes/s; concurrent creates retry on transaction conflicts).
    """
    bound_settings()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        _add_insert(transaction, tenant, customer)
        _add_count(transaction, tenant, 1, max_customers)
        return transaction

    _commit(tenant, build, customer.unique_values())
    return _replace_version(customer, 1)


def _commit(
    tenant: TenantId, build: Callable[[], LabelledTransaction], claimed: dict[UniqueField, str]
) -> None:
    """Commit; a failed unique claim becomes UniqueConflict naming the current holder."""
    try:
        commit_with_retry(build)
    except ConditionsFailed as error:
        if any(failure.label == _QUOTA_LABEL for failure in error.failures):
            raise QuotaExceeded("max_customers", "the plan's customer limit is reached") from error
        for failure in error.failures:
            if failure.label.startswith("unique:"):
                field = UniqueField(failure.label.removeprefix("unique:"))
                holder = (failure.old_item or {}).get("customer_id", {}).get("S")
                if holder is None:
                    holder = find_customer_id(tenant, field, claimed[field])
                raise UniqueConflict(field_name=field.value, existing_id=holder) from error
        raise ConcurrentModification(
            "the customer was changed by another request since it was read"
        ) from error


def _replace_version(customer: Customer, version: int) -> Customer:
    return replace(customer, version=version)


def get_customer(tenant: TenantId, customer_id: str) -> Customer | None:
    bound_settings()
    try:
        item = CustomerItem.get(
            keys.customer_pk(tenant, customer_id), keys.PROFILE_SK, consistent_read=True
        )
    except CustomerItem.DoesNotExist:
        return None
    return _to_customer(item)


def existing_customer_ids(tenant: TenantId, customer_ids: Iterable[str]) -> set[str]:
    """Which of `customer_ids` have a profile: strongly consistent BatchGetItem calls of up
    to 100 keys (a batch of interactions checks its customers at once)."""
    bound_settings()
    wanted = [
        (keys.customer_pk(tenant, customer_id), keys.PROFILE_SK)
        for customer_id in set(customer_ids)
    ]
    if not wanted:
        return set()
    return {item.customer_id for item in CustomerItem.batch_get(wanted, consistent_read=True)}


def get_customers(
    tenant: TenantId, customer_ids: Sequence[str], consistent_read: bool = False
) -> list[Customer]:
    """The profiles of `customer_ids` in that order (BatchGetItem, 100 keys a call); a
    customer deleted meanwhile is left out."""
    bound_settings()
    wanted = [
        (keys.customer_pk(tenant, customer_id), keys.PROFILE_SK) for customer_id in customer_ids
    ]
    if not wanted:
        return []
    found = {
        item.customer_id: item
        for item in CustomerItem.batch_get(wanted, consistent_read=consistent_read)
    }
    return [
        _to_customer(found[customer_id]) for customer_id in customer_ids if customer_id in found
    ]


def get_customer_with_metrics(
    tenant: TenantId, customer_id: str
) -> tuple[Customer | None, CustomerMetrics | None]:
    """The profile and its metrics (kept by the data stream in the customer's segment
    state) in one consistent Query: `PROFILE` and `SEGMENTS` are neighbours in the
    partition's sort order, with nothing between them."""
    settings = bound_settings()
    answer = dynamodb_client().query(
        TableName=settings.data_table,
        KeyConditionExpression="pk = :pk AND sk BETWEEN :profile AND :state",
        ExpressionAttributeValues={
            ":pk": {"S": keys.customer_pk(tenant, customer_id)},
            ":profile": {"S": keys.PROFILE_SK},
            ":state": {"S": keys.SEGMENT_STATE_SK},
        },
        ConsistentRead=True,
    )
    customer = None
    metrics = None
    for raw in answer.get("Items", []):
        if raw["sk"]["S"] == keys.PROFILE_SK:
            customer = customer_from_raw(raw)
        elif raw["sk"]["S"] == keys.SEGMENT_STATE_SK:
            state = SegmentStateItem.from_raw_data(raw)
            metrics = CustomerMetrics.from_json(json.loads(state.metrics))
    return customer, metrics


def customer_from_raw(raw: dict[str, Any]) -> Customer:
    """A customer from a profile item as DynamoDB returns it (for reads that fetch the
    profile together with other items of its partition)."""
    return _to_customer(CustomerItem.from_raw_data(raw))


def _add_replacement(
    transaction: LabelledTransaction,
    tenant: TenantId,
    before: Customer,
    after: Customer,
    prefix: str = "",
) -> None:
    """`after` in place of `before` (under its version), claims and tag listings moved."""
    old_unique = before.unique_values()
    new_unique = after.unique_values()
    transaction.put(f"{prefix}{_CUSTOMER_LABEL}", _to_item(tenant, after, version=before.version))
    for field, value in old_unique.items():
        if new_unique.get(field) != value:
            transaction.delete(
                f"{prefix}release:{field.value}",
                _unique_item(tenant, field, value, before.id),
                condition=UniqueItem.customer_id == before.id,
            )
    for field, value in new_unique.items():
        if old_unique.get(field) != value:
            transaction.put(
                f"{prefix}{_unique_label(field)}",
                _unique_item(tenant, field, value, after.id),
                condition=UniqueItem.pk.does_not_exist(),
                return_old_on_failure=True,
            )
    for tag in sorted(before.tags - after.tags):
        transaction.delete(f"{prefix}untag:{tag}", _tag_item(tenant, tag, before))
    for tag in sorted(after.tags - before.tags):
        transaction.put(f"{prefix}tag:{tag}", _tag_item(tenant, tag, after))


def replace_customer(tenant: TenantId, before: Customer, after: Customer) -> Customer:
    """Store `after` in place of `before`, moving unique claims and tag listings with it.

    Fails with ConcurrentModification when the stored version is no longer `before`'s.
    """
    bound_settings()
    old_unique = before.unique_values()
    claimed = {f: v for f, v in after.unique_values().items() if old_unique.get(f) != v}

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        _add_replacement(transaction, tenant, before, after)
        return transaction

    _commit(tenant, build, claimed)
    return _replace_version(after, before.version + 1)


@dataclass(frozen=True)
class CustomerWrite:
    """A new customer (`before` is None) or `after` in place of `before` as read."""

    before: Customer | None
    after: Customer


def _add_write(transaction: LabelledTransaction, tenant: TenantId, write: CustomerWrite) -> None:
    prefix = f"{write.after.id}:"
    if write.before is None:
        _add_insert(transaction, tenant, write.after, prefix)
    else:
        _add_replacement(transaction, tenant, write.before, write.after, prefix)


def _grouped(tenant: TenantId, writes: Sequence[CustomerWrite]) -> list[list[int]]:
    """The writes in order, in groups that fit one TransactWriteItems with the count."""
    groups: list[list[int]] = [[]]
    size = 0
    for index, write in enumerate(writes):
        part = LabelledTransaction()
        _add_write(part, tenant, write)
        actions = len(part.labels)
        if size + actions > MAX_TRANSACTION_ACTIONS - 1 and groups[-1]:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += actions
    return [group for group in groups if group]


def _group_transaction(
    tenant: TenantId, writes: Sequence[CustomerWrite], max_customers: int | None
) -> LabelledTransaction:
    transaction = LabelledTransaction()
    for write in writes:
        _add_write(transaction, tenant, write)
    added = sum(1 for write in writes if write.before is None)
    if added:
        _add_count(transaction, tenant, added, max_customers)
    return transaction


def _commit_together(
    tenant: TenantId, writes: Sequence[CustomerWrite], max_customers: int | None
) -> list[bool]:
    """One transaction of `writes` (and the count of the new ones); answers, per write,
    whether it was committed. When conditions fail, the writes they belong to are left out
    and the others committed again together; a cancellation that names no write of its
    own (the limit reached, conflicts that kept on, a value refused) commits none."""
    pending = {write.after.id: index for index, write in enumerate(writes)}
    committed = [False] * len(writes)
    for _ in range(MAX_TRANSACTION_ATTEMPTS):
        members = [writes[index] for index in pending.values()]
        try:
            commit_with_retry(partial(_group_transaction, tenant, members, max_customers))
        except ConditionsFailed as error:
            failed = {failure.label.partition(":")[0] for failure in error.failures}
            if not failed & set(pending):
                return committed
            pending = {id_: index for id_, index in pending.items() if id_ not in failed}
            if not pending:
                return committed
            continue
        except (ConcurrentModification, InvalidValue, TransactWriteError):
            return committed
        for index in pending.values():
            committed[index] = True
        return committed
    return committed


def write_customers(
    tenant: TenantId,
    writes: Sequence[CustomerWrite],
    max_customers: int | None,
    workers: int = GROUP_WORKERS,
) -> list[bool]:
    """Commit independent customer writes (no two name the same customer or unique value)
    several to a TransactWriteItems of up to 100 actions, each under the conditions it has
    alone (claims `attribute_not_exists`, replacements their version read), the groups on
    up to `workers` threads. Answers, per write, whether it was committed; the caller
    writes those not committed one at a time, to learn each one's own outcome."""
    bound_settings()
    groups = _grouped(tenant, writes)
    tasks = [
        partial(_commit_together, tenant, [writes[index] for index in group], max_customers)
        for group in groups
    ]
    committed = [False] * len(writes)
    for group, done in zip(groups, run_all(tasks, workers), strict=True):
        for index, ok in zip(group, done, strict=True):
            committed[index] = ok
    return committed


def delete_customer(
    tenant: TenantId,
    customer: Customer,
    also: Callable[[LabelledTransaction], None] | None = None,
) -> None:
    """Delete the profile, free its unique values and drop its tag listings; `also` adds
    more writes to the same transaction (an erasure records itself with them)."""
    bound_settings()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        if also is not None:
            also(transaction)
        transaction.delete(_CUSTOMER_LABEL, _to_item(tenant, customer, version=customer.version))
        for field, value in customer.unique_values().items():
            transaction.delete(
                f"release:{field.value}",
                _unique_item(tenant, field, value, customer.id),
                condition=UniqueItem.customer_id == customer.id,
            )
        for tag in sorted(customer.tags):
            transaction.delete(f"untag:{tag}", _tag_item(tenant, tag, customer))
        transaction.update("count", _counter(tenant), [CounterItem.value.add(-1)])
        return transaction

    _commit(tenant, build, {})


def find_customer_id(tenant: TenantId, field: UniqueField, value: str) -> str | None:
    bound_settings()
    try:
        claim = UniqueItem.get(keys.unique_pk(tenant, field, value), keys.UNIQUE_SK)
    except UniqueItem.DoesNotExist:
        return None
    return claim.customer_id


def find_customer_ids(
    tenant: TenantId, field: UniqueField, values: Iterable[str]
) -> dict[str, str]:
    """The holders of those of `values` that are claimed, by value: strongly consistent
    BatchGetItem calls of up to 100 keys."""
    bound_settings()
    by_key = {keys.unique_pk(tenant, field, value): value for value in set(values)}
    if not by_key:
        return {}
    wanted = [(pk, keys.UNIQUE_SK) for pk in by_key]
    return {
        by_key[claim.pk]: claim.customer_id
        for claim in UniqueItem.batch_get(wanted, consistent_read=True)
    }


def customer_count(tenant: TenantId) -> int:
    """The tenant's customers as counted against its plan's limit."""
    bound_settings()
    try:
        counter = CounterItem.get(
            keys.customer_counter_pk(tenant), keys.CUSTOMER_COUNTER_SK, consistent_read=True
        )
    except CounterItem.DoesNotExist:
        return 0
    return int(counter.value or 0)


def list_customers(tenant: TenantId, page: PageRequest) -> Page[Customer]:
    """Newest first: one Query on gsi1 per page."""
    bound_settings()
    items, next_cursor = page_of(
        tenant,
        "customers:list",
        page,
        lambda start, limit: CustomerItem.by_created.query(
            keys.customers_by_created_pk(tenant),
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        ("gsi1pk", "gsi1sk"),
    )
    return Page([_to_customer(item) for item in items], next_cursor)


def list_customers_with_tag(tenant: TenantId, tag: str, page: PageRequest) -> Page[Customer]:
    """Newest first: one Query on the tag's listing, then one BatchGetItem for the profiles."""
    bound_settings()
    listings, next_cursor = page_of(
        tenant,
        f"customers:tag:{tag}",
        page,
        lambda start, limit: TagItem.query(
            keys.tag_pk(tenant, tag),
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
    )
    wanted = [(keys.customer_pk(tenant, entry.customer_id), keys.PROFILE_SK) for entry in listings]
    found = {item.customer_id: item for item in CustomerItem.batch_get(wanted)} if wanted else {}
    customers = [
        _to_customer(found[entry.customer_id]) for entry in listings if entry.customer_id in found
    ]
    return Page(customers, next_cursor)


def add_merge_of_profiles(
    transaction: LabelledTransaction,
    tenant: TenantId,
    survivor_before: Customer,
    survivor_after: Customer,
    sources: list[Customer],
) -> None:
    """Add to `transaction` the profile side of a merge (issue 16): the survivor stored as
    `survivor_after` under its version read, the claims it takes moved to it from the
    source holding them, and each source's profile, its other claims and its tag listings
    removed (the sources no longer list or resolve)."""
    holders = {
        (field, value): source.id
        for source in sources
        for field, value in source.unique_values().items()
    }
    transaction.put(
        _CUSTOMER_LABEL, _to_item(tenant, survivor_after, version=survivor_before.version)
    )
    old_unique = survivor_before.unique_values()
    for field, value in survivor_after.unique_values().items():
        if old_unique.get(field) == value:
            continue
        holder = holders.pop((field, value))
        transaction.put(
            f"take:{field.value}",
            _unique_item(tenant, field, value, survivor_after.id),
            condition=UniqueItem.customer_id == holder,
        )
    for tag in sorted(survivor_after.tags - survivor_before.tags):
        transaction.put(f"tag:{tag}", _tag_item(tenant, tag, survivor_after))
    for source in sources:
        transaction.delete(f"merged:{source.id}", _to_item(tenant, source, version=source.version))
        for field, value in source.unique_values().items():
            if (field, value) in holders:
                transaction.delete(
                    f"release:{source.id}:{field.value}",
                    _unique_item(tenant, field, value, source.id),
                    condition=UniqueItem.customer_id == source.id,
                )
        for tag in sorted(source.tags):
            transaction.delete(f"untag:{source.id}:{tag}", _tag_item(tenant, tag, source))
    transaction.update("count", _counter(tenant), [CounterItem.value.add(-len(sources))])


def customer_to_json(customer: Customer) -> str:
    """The profile as its item's attributes (a merged source's marker keeps it for unmerge)."""
    item = _to_item(TenantId("snapshot"), customer, version=customer.version)
    return json.dumps(item.serialize(null_check=False), separators=(",", ":"))


def customer_from_json(snapshot: str) -> Customer:
    return customer_from_raw(json.loads(snapshot))


def add_unmerge_of_profiles(
    transaction: LabelledTransaction,
    tenant: TenantId,
    survivor_before: Customer,
    survivor_after: Customer,
    source: Customer,
) -> None:
    """Add to `transaction` the profile side of an unmerge: the survivor stored as
    `survivor_after` under its version read, each unique value of the source back to it
    (from the survivor when it held it, else a fresh claim), and the source's profile, tag
    listings and count back. A claim another customer took since fails (label `claim:`)."""
    transaction.put(
        _CUSTOMER_LABEL, _to_item(tenant, survivor_after, version=survivor_before.version)
    )
    held = survivor_before.unique_values()
    for field, value in source.unique_values().items():
        condition = (
            UniqueItem.customer_id == survivor_before.id
            if held.get(field) == value
            else UniqueItem.pk.does_not_exist()
        )
        transaction.put(
            f"claim:{field.value}",
            _unique_item(tenant, field, value, source.id),
            condition=condition,
        )
    restored = _to_item(tenant, source, version=None)
    transaction.put(f"restore:{source.id}", restored, condition=CustomerItem.pk.does_not_exist())
    for tag in sorted(source.tags):
        transaction.put(f"tag:{source.id}:{tag}", _tag_item(tenant, tag, source))
    transaction.update("count", _counter(tenant), [CounterItem.value.add(1)])
