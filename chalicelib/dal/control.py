"""Control-plane repository: tenants, their API keys, configuration and usage."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.condition import Condition, size

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import page_of
from chalicelib.dal.models import ApiKeyItem, TenantConfigItem, TenantItem, UsageItem
from chalicelib.dal.transactions import ConditionsFailed, LabelledTransaction, commit_with_retry
from chalicelib.domain.clock import sortable_timestamp
from chalicelib.domain.errors import ConcurrentModification, QuotaExceeded
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import (
    ApiKey,
    DailyUsage,
    Plan,
    PurgeProgress,
    PurgeStatus,
    Role,
    Tenant,
    TenantId,
    TenantStatus,
)

if TYPE_CHECKING:
    from chalicelib.domain.tenant_config import TenantConfig

PLATFORM_KEYS_OWNER = "PLATFORM#KEYS"
PLATFORM_TENANTS = TenantId("platform")
MAX_KEY_HASHES = 1_000
"""How many key hashes a tenant item holds at most: 1,000 hashes of 64 characters are
about 67 KB of the 400 KB an item may hold. The plan caps counted keys at 100; the rest is
room for rotated keys still within their grace period."""


def _tenant_item(tenant: Tenant) -> TenantItem:
    created = f"{sortable_timestamp(tenant.created_at)}#{tenant.id}"
    item = TenantItem(
        pk=keys.tenant_pk(tenant.id),
        sk=keys.TENANT_SK,
        gsi1pk=keys.TENANTS_GSI_PK,
        gsi1sk=created,
        gsi2pk=keys.tenants_with_status_pk(tenant.status.value),
        gsi2sk=created,
        tenant_id=tenant.id,
        name=tenant.name,
        plan=tenant.plan.value,
        status=tenant.status.value,
        contact_email=tenant.contact_email,
        key_count=tenant.key_count,
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
        deleted_at=tenant.deleted_at,
        purge=_purge_json(tenant.purge),
        gateway_key_id=tenant.gateway_key_id,
        gateway_plan=tenant.gateway_plan.value if tenant.gateway_plan else None,
        key_hashes=set(tenant.key_hashes) or None,
    )
    return item


def _purge_json(purge: PurgeProgress | None) -> str | None:
    if purge is None:
        return None
    return json.dumps(asdict(purge), default=lambda value: value.isoformat())


def _purge_from(text: str | None) -> PurgeProgress | None:
    if not text:
        return None
    raw: dict[str, Any] = json.loads(text)
    for name in ("started_at", "completed_at"):
        if raw.get(name):
            raw[name] = datetime.fromisoformat(raw[name])
    raw["status"] = PurgeStatus(raw["status"])
    return PurgeProgress(**raw)


def _to_tenant(item: TenantItem) -> Tenant:
    return Tenant(
        id=TenantId(item.tenant_id),
        name=item.name,
        plan=Plan(item.plan),
        status=TenantStatus(item.status),
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
        contact_email=item.contact_email,
        key_count=int(item.key_count or 0),
        deleted_at=item.deleted_at,
        purge=_purge_from(item.purge),
        gateway_key_id=item.gateway_key_id,
        gateway_plan=Plan(item.gateway_plan) if item.gateway_plan else None,
        key_hashes=frozenset(item.key_hashes or ()),
    )


def _key_item(key: ApiKey) -> ApiKeyItem:
    owner = keys.tenant_keys_pk(key.tenant) if key.tenant else PLATFORM_KEYS_OWNER
    return ApiKeyItem(
        pk=keys.api_key_pk(key.key_hash),
        sk=keys.API_KEY_SK,
        gsi1pk=owner,
        gsi1sk=key.key_id,
        key_id=key.key_id,
        tenant_id=key.tenant,
        role=key.role.value,
        label=key.label,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        rotated_to=key.rotated_to,
        tenant_status=key.tenant_status.value if key.tenant_status else None,
        tenant_plan=key.tenant_plan.value if key.tenant_plan else None,
    )


def _to_key(item: ApiKeyItem) -> ApiKey:
    return ApiKey(
        key_id=item.key_id,
        key_hash=item.pk.removeprefix("APIKEY#"),
        role=Role(item.role),
        tenant=TenantId(item.tenant_id) if item.tenant_id else None,
        created_at=item.created_at,
        label=item.label,
        expires_at=item.expires_at,
        revoked_at=item.revoked_at,
        last_used_at=item.last_used_at,
        rotated_to=item.rotated_to,
        tenant_status=TenantStatus(item.tenant_status) if item.tenant_status else None,
        tenant_plan=Plan(item.tenant_plan) if item.tenant_plan else None,
    )


# Tenants


def insert_tenant(tenant: Tenant, first_key: ApiKey, config: TenantConfig | None = None) -> None:
    """Create a tenant, its first admin key, (optionally) its configuration and its offers
    index marker (data table) together."""
    from chalicelib.dal import offers  # not at import: every request's auth loads this module

    bound_settings()

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        named = replace(tenant, key_hashes=tenant.key_hashes | {first_key.key_hash})
        transaction.put("tenant", _tenant_item(named), condition=TenantItem.pk.does_not_exist())
        transaction.put("key", _key_item(first_key), condition=ApiKeyItem.pk.does_not_exist())
        if config is not None:
            transaction.put("config", config_item(tenant.id, config, tenant.created_at))
        offers.add_indexed_marker_to(transaction, tenant.id, tenant.created_at)
        return transaction

    commit_with_retry(build)


def get_tenant(tenant: TenantId) -> Tenant | None:
    return _read_tenant(tenant, consistent=False)


def _read_tenant(tenant: TenantId, consistent: bool) -> Tenant | None:
    bound_settings()
    try:
        item = TenantItem.get(keys.tenant_pk(tenant), keys.TENANT_SK, consistent_read=consistent)
    except TenantItem.DoesNotExist:
        return None
    return _to_tenant(item)


def iter_tenants() -> Iterator[Tenant]:
    """Every tenant, oldest first: a paged Query on gsi1's `TENANTS` partition."""
    bound_settings()
    for item in TenantItem.by_created.query(keys.TENANTS_GSI_PK):
        yield _to_tenant(item)


def tenant_pages(page_size: int) -> Iterator[list[Tenant]]:
    """Every tenant, oldest first, a page at a time: one Query of gsi1's `TENANTS`
    partition (at most `page_size` tenants) per page; the last page may be empty."""
    bound_settings()
    start: dict[str, Any] | None = None
    while True:
        results = TenantItem.by_created.query(
            keys.TENANTS_GSI_PK, limit=page_size, page_size=page_size, last_evaluated_key=start
        )
        yield [_to_tenant(item) for item in results]
        start = results.last_evaluated_key
        if not start:
            return


def save_tenant(before: Tenant, after: Tenant) -> Tenant:
    """Replace a tenant record, guarded by the version read (optimistic locking)."""
    bound_settings()
    item = _tenant_item(after)
    item.version = before.version
    try:
        item.save()
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise ConcurrentModification(f"tenant {before.id} changed concurrently") from exc
        raise
    return replace(after, version=before.version + 1)


def list_tenants(status: TenantStatus | None, page: PageRequest) -> Page[Tenant]:
    """Newest first; one Query per page on gsi1 (all) or gsi2 (one status)."""
    bound_settings()
    query = f"tenants:{status.value if status else 'all'}"
    if status is None:
        index: Any = TenantItem.by_created
        index_pk, index_keys = keys.TENANTS_GSI_PK, ("gsi1pk", "gsi1sk")
    else:
        index = TenantItem.by_status
        index_pk, index_keys = keys.tenants_with_status_pk(status.value), ("gsi2pk", "gsi2sk")
    items, next_cursor = page_of(
        PLATFORM_TENANTS,
        query,
        page,
        lambda start, limit: index.query(
            index_pk,
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        index_keys,
    )
    return Page([_to_tenant(item) for item in items], next_cursor)


# API keys


def get_api_key(key_hash: str) -> ApiKey | None:
    bound_settings()
    try:
        return _to_key(ApiKeyItem.get(keys.api_key_pk(key_hash), keys.API_KEY_SK))
    except ApiKeyItem.DoesNotExist:
        return None


def insert_platform_key(key: ApiKey) -> None:
    if key.tenant is not None or key.role is not Role.PLATFORM_ADMIN:
        raise ValueError("a platform key has the platform_admin role and no tenant")
    bound_settings()
    _key_item(key).save(condition=ApiKeyItem.pk.does_not_exist())


def _tenant_copy_is_current(key: ApiKey) -> Condition:
    """The tenant item still has the status and plan the key item carries a copy of."""
    if key.tenant_status is None or key.tenant_plan is None:
        raise ValueError("a tenant key carries its tenant's status and plan")
    return (TenantItem.status == key.tenant_status.value) & (
        TenantItem.plan == key.tenant_plan.value
    )


def _room_for_a_key_hash() -> Condition:
    return TenantItem.key_hashes.does_not_exist() | (size(TenantItem.key_hashes) < MAX_KEY_HASHES)


def insert_api_key(key: ApiKey, max_keys: int | None = None) -> None:
    """Store a new key of an existing tenant, count it and name its hash on the tenant item,
    refusing past `max_keys`.

    The key's copy of the tenant's status and plan must still be the tenant's, checked in
    the same transaction: a key made while a suspension (or plan change) is being copied
    to the tenant's keys cannot keep a copy that the suspension missed. Raises
    ConcurrentModification when the tenant changed since `key` was made from it."""
    if key.tenant is None:
        raise ValueError("a tenant key needs its tenant")
    bound_settings()
    tenant = TenantItem(pk=keys.tenant_pk(key.tenant), sk=keys.TENANT_SK)
    room = TenantItem.pk.exists() & _tenant_copy_is_current(key) & _room_for_a_key_hash()
    if max_keys is not None:
        room &= TenantItem.key_count < max_keys

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        transaction.put("key", _key_item(key), condition=ApiKeyItem.pk.does_not_exist())
        transaction.update(
            "tenant",
            tenant,
            [TenantItem.key_count.add(1), TenantItem.key_hashes.add({key.key_hash})],
            condition=room,
        )
        return transaction

    def over_the_plan(_: ConditionsFailed) -> Exception:
        return QuotaExceeded("max_api_keys", f"the plan allows at most {max_keys} API keys")

    _commit_naming_key(build, key, over_the_plan)


def _commit_naming_key(
    build: Callable[[], LabelledTransaction],
    key: ApiKey,
    refused: Callable[[ConditionsFailed], Exception],
) -> None:
    """Commit a transaction that names `key`'s hash on its tenant item, conditioned on the
    tenant's status and plan as `key` copied them and on room for the hash. A changed tenant
    raises ConcurrentModification (the caller reads it again); a tenant item naming
    MAX_KEY_HASHES keys first drops the hashes of dead keys and commits once more; any other
    failed condition raises `refused(...)`."""
    assert key.tenant is not None
    for pruned in (False, True):
        try:
            commit_with_retry(build)
            return
        except ConditionsFailed as exc:
            owner = _read_tenant(key.tenant, consistent=True)
            if owner is None or (owner.status, owner.plan) != (key.tenant_status, key.tenant_plan):
                raise ConcurrentModification(f"tenant {key.tenant} changed; retry") from exc
            if len(owner.key_hashes) < MAX_KEY_HASHES:
                raise refused(exc) from exc
            if pruned or not _drop_dead_key_hashes(owner, key.created_at):
                raise QuotaExceeded(
                    "max_api_keys",
                    f"the tenant holds {MAX_KEY_HASHES} API keys that are neither revoked nor "
                    "expired (rotated keys count until then); revoke some",
                ) from exc


def list_api_keys(tenant: TenantId) -> list[ApiKey]:
    """All of a tenant's keys, revoked ones included (one Query; a plan caps the count)."""
    bound_settings()
    return [_to_key(item) for item in ApiKeyItem.by_owner.query(keys.tenant_keys_pk(tenant))]


def find_api_key(tenant: TenantId, key_id: str) -> ApiKey | None:
    bound_settings()
    found = ApiKeyItem.by_owner.query(
        keys.tenant_keys_pk(tenant), ApiKeyItem.gsi1sk == key_id, limit=1
    )
    item = next(iter(found), None)
    return _to_key(item) if item is not None else None


REVOKE_ATTEMPTS = 3


def revoke_api_key(key: ApiKey, now: datetime) -> None:
    """Mark the key revoked and drop its hash from the tenant item; a key that still counts
    towards the tenant's keys leaves the count in the same transaction. Each key leaves the
    count once: a rotated key's place in the count passed to its successor at rotation, and
    a second revoke changes nothing."""
    if key.tenant is None:
        raise ValueError("platform keys are not revoked through the API")
    bound_settings()
    item = ApiKeyItem(pk=keys.api_key_pk(key.key_hash), sk=keys.API_KEY_SK)
    tenant = TenantItem(pk=keys.tenant_pk(key.tenant), sk=keys.TENANT_SK)

    def build(counted: bool) -> LabelledTransaction:
        transaction = LabelledTransaction()
        unrevoked = ApiKeyItem.pk.exists() & ApiKeyItem.revoked_at.does_not_exist()
        unnamed = TenantItem.key_hashes.delete({key.key_hash})
        if counted:
            unrevoked &= ApiKeyItem.rotated_to.does_not_exist()
            transaction.update("tenant", tenant, [TenantItem.key_count.add(-1), unnamed])
        else:
            unrevoked &= ApiKeyItem.rotated_to.exists()
            transaction.update("tenant", tenant, [unnamed])
        transaction.update("key", item, [ApiKeyItem.revoked_at.set(now)], condition=unrevoked)
        return transaction

    current: ApiKey | None = key
    for _ in range(REVOKE_ATTEMPTS):
        if current is None or current.revoked_at is not None:
            return
        try:
            commit_with_retry(partial(build, current.rotated_to is None))
            return
        except ConditionsFailed:
            current = get_api_key(key.key_hash)
    raise ConcurrentModification(f"key {key.key_id} keeps changing; retry")


def rotate_api_key(old: ApiKey, new: ApiKey, old_expires_at: datetime) -> None:
    """Store `new` and let `old` work until `old_expires_at`; the count does not change
    (`old`'s place in it passes to `new`). `new`'s copy of the tenant's status and plan is
    checked against the tenant item in the same transaction, as for a new key, which names
    `new`'s hash on the tenant item (`old`'s stays until it is revoked or met expired)."""
    if new.tenant is None or new.tenant != old.tenant:
        raise ValueError("a rotated key stays with its tenant")
    bound_settings()
    old_item = ApiKeyItem(pk=keys.api_key_pk(old.key_hash), sk=keys.API_KEY_SK)
    owner = TenantItem(pk=keys.tenant_pk(new.tenant), sk=keys.TENANT_SK)

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        current = TenantItem.pk.exists() & _tenant_copy_is_current(new) & _room_for_a_key_hash()
        transaction.update(
            "tenant", owner, [TenantItem.key_hashes.add({new.key_hash})], condition=current
        )
        transaction.put("new", _key_item(new), condition=ApiKeyItem.pk.does_not_exist())
        transaction.update(
            "old",
            old_item,
            [ApiKeyItem.expires_at.set(old_expires_at), ApiKeyItem.rotated_to.set(new.key_id)],
            condition=ApiKeyItem.pk.exists()
            & ApiKeyItem.revoked_at.does_not_exist()
            & ApiKeyItem.rotated_to.does_not_exist(),
        )
        return transaction

    def taken(_: ConditionsFailed) -> Exception:
        return ConcurrentModification(f"key {old.key_id} was revoked or rotated already")

    _commit_naming_key(build, new, taken)


def touch_api_key(key: ApiKey, now: datetime, not_before: datetime) -> None:
    """Record use, unless it was recorded after `not_before` (so at most once a minute)."""
    bound_settings()
    item = ApiKeyItem(pk=keys.api_key_pk(key.key_hash), sk=keys.API_KEY_SK)
    try:
        item.update(
            actions=[ApiKeyItem.last_used_at.set(now)],
            condition=ApiKeyItem.pk.exists()
            & (ApiKeyItem.last_used_at.does_not_exist() | (ApiKeyItem.last_used_at < not_before)),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def copy_tenant_to_keys(tenant: Tenant, now: datetime) -> Tenant:
    """Give each of the tenant's keys the tenant's status and plan (one UpdateItem a key,
    skipped where the copy is current) and answer the tenant as stored afterwards.
    Idempotent: run again after a crash.

    The keys are the ones `tenant` names (`key_hashes`), each read by its table key, and,
    for keys stored before tenant items named them, the ones a Query of gsi1 finds. The
    index alone can miss a key committed just before the tenant changed (its entry not yet
    propagated); the tenant item cannot: the key's transaction named it there and moved the
    item's version, and the change of the tenant was saved on the version it read (a key
    stored after the change is refused by its own transaction). Hashes of keys found gone,
    revoked or expired leave the tenant item (when it has not changed since)."""
    bound_settings()
    named = _named_key_items(tenant)
    named_pks = {keys.api_key_pk(key_hash) for key_hash in named}
    listed = ApiKeyItem.by_owner.query(keys.tenant_keys_pk(tenant.id))
    for item in [item for item in named.values() if item is not None]:
        _copy_tenant_to(item, tenant)
    for item in listed:
        if item.pk not in named_pks:
            _copy_tenant_to(item, tenant)
    return _drop_key_hashes(tenant, _dead_hashes(named, now))


def _copy_tenant_to(item: ApiKeyItem, tenant: Tenant) -> None:
    if item.tenant_status == tenant.status.value and item.tenant_plan == tenant.plan.value:
        return
    try:
        item.update(
            actions=[
                ApiKeyItem.tenant_status.set(tenant.status.value),
                ApiKeyItem.tenant_plan.set(tenant.plan.value),
            ],
            condition=ApiKeyItem.pk.exists(),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def _named_key_items(tenant: Tenant) -> dict[str, ApiKeyItem | None]:
    """The key items `tenant` names, by hash, each read by its table key and consistently (a
    key committed a moment ago is found); None for a key that is gone."""
    found: dict[str, ApiKeyItem | None] = {}
    for key_hash in sorted(tenant.key_hashes):
        try:
            found[key_hash] = ApiKeyItem.get(
                keys.api_key_pk(key_hash), keys.API_KEY_SK, consistent_read=True
            )
        except ApiKeyItem.DoesNotExist:
            found[key_hash] = None
    return found


def _dead_hashes(named: dict[str, ApiKeyItem | None], now: datetime) -> frozenset[str]:
    """The hashes of keys gone, revoked or expired: no copy of the tenant matters to them."""
    return frozenset(
        key_hash
        for key_hash, item in named.items()
        if item is None or not _to_key(item).is_usable(now)
    )


def _drop_key_hashes(tenant: Tenant, dead: frozenset[str]) -> Tenant:
    """`tenant` as stored once `dead` left its item; `tenant` unchanged when there is
    nothing to drop or the item changed since `tenant` was read (a later change drops them)."""
    if not dead:
        return tenant
    item = TenantItem(pk=keys.tenant_pk(tenant.id), sk=keys.TENANT_SK, version=tenant.version)
    try:
        item.update(actions=[TenantItem.key_hashes.delete(set(dead))])
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return tenant
    return _to_tenant(item)


def _drop_dead_key_hashes(tenant: Tenant, now: datetime) -> bool:
    """Drop the hashes of the tenant's dead keys from its item; answers whether any left."""
    dropped = _drop_key_hashes(tenant, _dead_hashes(_named_key_items(tenant), now))
    return dropped is not tenant


def delete_control_items(tenant: Tenant) -> int:
    """Delete a tenant's keys (those its item names and those gsi1 lists), configuration
    and usage records; the tenant record stays (its caller saves it without `key_hashes`)."""
    bound_settings()
    named = [
        ApiKeyItem(pk=keys.api_key_pk(key_hash), sk=keys.API_KEY_SK)
        for key_hash in sorted(tenant.key_hashes)
    ]
    named_pks = {item.pk for item in named}
    listed = ApiKeyItem.by_owner.query(keys.tenant_keys_pk(tenant.id))
    deleted = sum(_delete_key(item) for item in named)
    deleted += sum(_delete_key(item) for item in listed if item.pk not in named_pks)
    for usage in UsageItem.query(keys.tenant_pk(tenant.id), UsageItem.sk.startswith("USAGE#")):
        usage.delete()
        deleted += 1
    try:
        TenantConfigItem.get(keys.tenant_pk(tenant.id), keys.TENANT_CONFIG_SK).delete()
        deleted += 1
    except TenantConfigItem.DoesNotExist:
        pass
    return deleted


def _delete_key(item: ApiKeyItem) -> int:
    """Delete a key item; answers 1 if it was there."""
    try:
        item.delete(condition=ApiKeyItem.pk.exists())
    except DeleteError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return 0
    return 1


# Configuration


def config_item(tenant: TenantId, config: TenantConfig, now: datetime) -> TenantConfigItem:
    """The configuration's item: written with a new tenant here, replaced through
    `chalicelib.dal.tenant_config`."""
    return TenantConfigItem(
        pk=keys.tenant_pk(tenant),
        sk=keys.TENANT_CONFIG_SK,
        tenant_id=tenant,
        document=config.model_dump_json(),
        updated_at=now,
    )


# Usage


def add_usage(tenant: TenantId, day: str, requests: int, reads: float, writes: float) -> None:
    """Add one flush of in-memory counts to the tenant's record for `day` (one UpdateItem)."""
    bound_settings()
    item = UsageItem(pk=keys.tenant_pk(tenant), sk=keys.usage_sk(day))
    item.update(
        actions=[
            UsageItem.entity.set("usage"),
            UsageItem.tenant_id.set(tenant),
            UsageItem.day.set(day),
            UsageItem.requests.add(requests),
            UsageItem.read_capacity.add(reads),
            UsageItem.write_capacity.add(writes),
        ]
    )


def list_usage(tenant: TenantId, first_day: str, last_day: str) -> list[DailyUsage]:
    bound_settings()
    found = UsageItem.query(
        keys.tenant_pk(tenant),
        UsageItem.sk.between(keys.usage_sk(first_day), keys.usage_sk(last_day)),
    )
    return [
        DailyUsage(
            day=item.day,
            requests=int(item.requests or 0),
            read_capacity_units=float(item.read_capacity or 0),
            write_capacity_units=float(item.write_capacity or 0),
        )
        for item in found
    ]
