"""Tenants, principals and roles."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NewType

from chalicelib.domain.ids import TENANT_ID_PATTERN, new_api_key_id

TenantId = NewType("TenantId", str)


def tenant_id(value: str) -> TenantId:
    """The only way to make a TenantId: it must look like one."""
    if not TENANT_ID_PATTERN.match(value):
        raise ValueError(f"not a tenant id: {value!r}")
    return TenantId(value)


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    APP = "app"
    READONLY = "readonly"
    CUSTOMER = "customer"
    """Not a key's role: a customer token's, acting for one customer."""
    PLATFORM_ADMIN = "platform_admin"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class Plan(StrEnum):
    FREE = "free"
    STANDARD = "standard"
    ENTERPRISE = "enterprise"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant's key (tenant set) or the platform admin (tenant None). A
    customer token's principal has the role CUSTOMER, the id of the app key that minted it
    and the one customer it may act for (`customer_id`), until the token expires."""

    key_id: str
    role: Role
    tenant: TenantId | None
    plan: Plan | None = None
    customer_id: str | None = None
    expires_at: datetime | None = None

    @property
    def is_platform_admin(self) -> bool:
        return self.role is Role.PLATFORM_ADMIN


class PurgeStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"


@dataclass(frozen=True)
class PurgeProgress:
    """Where the purge of a deleted tenant's data stands; saved after every page."""

    status: PurgeStatus = PurgeStatus.PENDING
    shard: int = 0
    cursor: str | None = None
    items_deleted: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True)
class Tenant:
    id: TenantId
    name: str
    plan: Plan
    status: TenantStatus
    created_at: datetime
    updated_at: datetime
    version: int = 1
    contact_email: str | None = None
    key_count: int = 0
    deleted_at: datetime | None = None
    purge: PurgeProgress | None = None
    gateway_key_id: str | None = None
    """The tenant's API Gateway API key (deployed stages only; see domain/gateway.py)."""
    gateway_plan: Plan | None = None
    """The plan whose usage plan that key was last put in."""
    key_hashes: frozenset[str] = frozenset()
    """The hashes of the tenant's keys that are not revoked (rotated ones until they expire
    or are revoked): what a change of the tenant's status or plan is copied to. Never
    answered by the API."""


@dataclass(frozen=True)
class ApiKey:
    """A stored API key: the secret's hash, never the secret."""

    key_id: str
    key_hash: str
    role: Role
    tenant: TenantId | None
    created_at: datetime
    label: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    rotated_to: str | None = None
    tenant_status: TenantStatus | None = None
    tenant_plan: Plan | None = None

    def is_usable(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class IssuedKey:
    """A key as handed out once: the record plus its secret."""

    record: ApiKey
    secret: str


_SECRET_PREFIX = "crm_"


def hash_secret(secret: str) -> str:
    """SHA-256 is enough: secrets carry 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(
    role: Role,
    tenant: TenantId | None,
    now: datetime,
    label: str | None = None,
    expires_at: datetime | None = None,
    secret: str | None = None,
    owner: Tenant | None = None,
) -> IssuedKey:
    """A new key record; the secret is random unless an operator supplies one. A tenant
    key carries a copy of its tenant's status and plan (`owner`), so authentication reads
    one item."""
    secret = secret or _SECRET_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        key_id=new_api_key_id(),
        key_hash=hash_secret(secret),
        role=role,
        tenant=tenant,
        created_at=now,
        label=label,
        expires_at=expires_at,
        tenant_status=owner.status if owner else None,
        tenant_plan=owner.plan if owner else None,
    )
    return IssuedKey(record=record, secret=secret)


@dataclass(frozen=True)
class DailyUsage:
    day: str
    requests: int
    read_capacity_units: float
    write_capacity_units: float
