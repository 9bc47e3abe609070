"""Tenant, API key, configuration and usage bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from chalicelib.domain.tenancy import (
    ApiKey,
    DailyUsage,
    IssuedKey,
    Plan,
    PurgeProgress,
    PurgeStatus,
    Role,
    Tenant,
    TenantStatus,
)
from chalicelib.domain.tenant_config import StoredConfig, TenantConfig
from chalicelib.schemas.common import Day, Instant, PageQuery, QueryParameters, RequestBody
from chalicelib.schemas.customers import Email

TenantName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class TenantCreate(RequestBody):
    name: TenantName
    plan: Plan = Plan.FREE
    contact_email: Email | None = None
    settings: TenantConfig | None = Field(
        None, description="Initial configuration; the documented defaults when omitted."
    )


class TenantPatch(RequestBody):
    name: TenantName | None = None
    plan: Plan | None = None
    contact_email: Email | None = None


class TenantListQuery(PageQuery):
    status: TenantStatus | None = None


class PurgeOut(BaseModel):
    status: PurgeStatus
    items_deleted: int
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, purge: PurgeProgress) -> PurgeOut:
        return cls(
            status=purge.status,
            items_deleted=purge.items_deleted,
            started_at=purge.started_at,
            completed_at=purge.completed_at,
        )


class TenantOut(BaseModel):
    id: str
    name: str
    plan: Plan
    status: TenantStatus
    contact_email: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    purge: PurgeOut | None = Field(description="Progress of the data purge after deletion.")
    version: int

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            id=tenant.id,
            name=tenant.name,
            plan=tenant.plan,
            status=tenant.status,
            contact_email=tenant.contact_email,
            created_at=tenant.created_at,
            updated_at=tenant.updated_at,
            deleted_at=tenant.deleted_at,
            purge=PurgeOut.of(tenant.purge) if tenant.purge else None,
            version=tenant.version,
        )


class TenantPage(BaseModel):
    items: list[TenantOut]
    next_cursor: str | None


class IssuedKeyOut(BaseModel):
    id: str
    key: str = Field(description="The secret. It is shown in this response only.")
    role: Role
    label: str | None
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, issued: IssuedKey) -> IssuedKeyOut:
        record = issued.record
        return cls(
            id=record.key_id,
            key=issued.secret,
            role=record.role,
            label=record.label,
            expires_at=record.expires_at,
            created_at=record.created_at,
        )


class TenantCreated(TenantOut):
    api_key: IssuedKeyOut


class ApiKeyCreate(RequestBody):
    role: Role
    label: Label | None = None
    expires_at: Instant | None = Field(None, description="ISO-8601 with a time zone.")


class ApiKeyOut(BaseModel):
    id: str
    role: Role
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rotated_to: str | None = Field(description="The key that replaced this one, if rotated.")

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.key_id,
            role=key.role,
            label=key.label,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
            rotated_to=key.rotated_to,
        )


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class RotateQuery(QueryParameters):
    grace_hours: int = Field(24, ge=0, le=720, description="How long the old secret works.")


class ConfigOut(BaseModel):
    version: int = Field(description="0 while the tenant runs on the defaults.")
    updated_at: datetime | None
    config: TenantConfig

    @classmethod
    def of(cls, stored: StoredConfig) -> ConfigOut:
        return cls(version=stored.version, updated_at=stored.updated_at, config=stored.config)


class UsageQuery(QueryParameters):
    from_: Day | None = Field(
        None, alias="from", description="First UTC day included (default: 29 days before `to`)."
    )
    to: Day | None = Field(None, description="Last UTC day included (default: today).")


class DailyUsageOut(BaseModel):
    day: date
    requests: int
    read_capacity_units: float
    write_capacity_units: float

    @classmethod
    def of(cls, usage: DailyUsage) -> DailyUsageOut:
        return cls(
            day=date.fromisoformat(usage.day),
            requests=usage.requests,
            read_capacity_units=usage.read_capacity_units,
            write_capacity_units=usage.write_capacity_units,
        )


class UsageOut(BaseModel):
    tenant_id: str
    first_day: date = Field(description="`from`: the first UTC day included.")
    last_day: date = Field(description="`to`: the last UTC day included.")
    days: list[DailyUsageOut] = Field(description="The days that recorded usage, oldest first.")
