"""Tenant onboarding bodies (platform admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from chalicelib.domain.tenancy import IssuedKey, Plan, Role, Tenant, TenantStatus
from chalicelib.schemas.common import RequestBody


class TenantCreate(RequestBody):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    plan: Plan = Plan.FREE


class TenantOut(BaseModel):
    id: str
    name: str
    plan: Plan
    status: TenantStatus
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            id=tenant.id,
            name=tenant.name,
            plan=tenant.plan,
            status=tenant.status,
            created_at=tenant.created_at,
        )


class IssuedKeyOut(BaseModel):
    id: str
    key: str = Field(description="The secret. It is shown in this response only.")
    role: Role

    @classmethod
    def of(cls, issued: IssuedKey) -> IssuedKeyOut:
        return cls(id=issued.record.key_id, key=issued.secret, role=issued.record.role)


class TenantCreated(TenantOut):
    api_key: IssuedKeyOut
