"""Audit trail shapes: entries, verification, the trail's query string."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.domain.audit import AuditEntry, Verification
from chalicelib.schemas.common import Instant, PageQuery, QueryParameters

DEFAULT_TRAIL_DAYS = 30


def _default_end() -> datetime:
    return datetime.now(UTC)


class TimeRange(QueryParameters):
    from_: Instant | None = Field(
        None,
        alias="from",
        description=f"Start (ISO-8601 with offset); default {DEFAULT_TRAIL_DAYS} days ago.",
    )
    to: Instant | None = Field(None, description="End (ISO-8601 with offset); default now.")

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        start, end = self.window()
        if end < start:
            raise ValueError("`to` (default: now) must not be before `from`")
        return self

    def window(self) -> tuple[datetime, datetime]:
        end = self.to or _default_end()
        return self.from_ or end - timedelta(days=DEFAULT_TRAIL_DAYS), end


class TrailQuery(PageQuery, TimeRange):
    customer_id: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="Entries about this customer (including lists that returned them)."
    )
    actor: Annotated[str, Field(max_length=128)] | None = Field(
        None, description="Entries of this key id (or `platform`, `system:<function>`)."
    )
    action: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="Entries of this operation (e.g. `get_customer`, `alert`)."
    )

    @model_validator(mode="after")
    def _one_filter(self) -> TrailQuery:
        chosen = [n for n in ("customer_id", "actor", "action") if getattr(self, n) is not None]
        if len(chosen) > 1:
            raise ValueError(f"filter by one of customer_id, actor, action (got {chosen})")
        return self


class AlertsQuery(PageQuery, TimeRange):
    pass


class AuditEntryOut(BaseModel):
    id: str
    at: datetime
    kind: str = Field(description="request, change or alert")
    actor: str = Field(description="Key id, `platform`, or `system:<function>`.")
    role: str
    action: str = Field(description="The operation, or `alert`.")
    resource_type: str
    resource_ids: list[str]
    customer_ids: list[str]
    fields: list[str] = Field(description="Names of the fields sent or changed, never values.")
    request_id: str
    source_ip: str | None
    user_agent: str | None
    outcome: str = Field(description="HTTP status of a request; `success` of a change.")
    detail: dict[str, str]
    expires_at: datetime = Field(description="When retention (the plan's) lets TTL remove it.")

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            id=entry.entry_id,
            at=entry.at,
            kind=entry.kind.value,
            actor=entry.actor,
            role=entry.role,
            action=entry.action,
            resource_type=entry.resource_type,
            resource_ids=list(entry.resource_ids),
            customer_ids=list(entry.customer_ids),
            fields=list(entry.fields),
            request_id=entry.request_id,
            source_ip=entry.source_ip,
            user_agent=entry.user_agent,
            outcome=entry.outcome,
            detail=dict(entry.detail),
            expires_at=datetime.fromtimestamp(entry.expires_at, tz=UTC),
        )


class AuditEntryPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


class MismatchOut(BaseModel):
    finding: str = Field(
        description="entry_modified, entry_missing, entry_not_in_digest, digest_modified, "
        "digest_missing, digest_gap (digests further apart than the digest period allows: "
        "`at` is the last digest before the gap) or tail_missing (no digest signed with the "
        "chain key within the digest period before now: `at` and `digest_sequence` name "
        "the newest digest, if any)"
    )
    entry_id: str | None
    digest_sequence: int | None
    at: datetime | None


class VerificationOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    ok: bool
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    entries_checked: int
    digests_checked: int
    pending: int = Field(description="Entries too recent to be in a digest yet.")
    first_mismatch: MismatchOut | None

    @classmethod
    def of(cls, result: Verification, start: datetime, end: datetime) -> VerificationOut:
        mismatch = result.first_mismatch
        return cls(
            ok=result.ok,
            from_=start,
            to=end,
            entries_checked=result.entries_checked,
            digests_checked=result.digests_checked,
            pending=result.pending,
            first_mismatch=None
            if mismatch is None
            else MismatchOut(
                finding=mismatch.finding.value,
                entry_id=mismatch.entry_id,
                digest_sequence=mismatch.digest_sequence,
                at=mismatch.at,
            ),
        )
