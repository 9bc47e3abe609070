"""Bulk import request and response bodies (issue 16)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from chalicelib.domain.clock import utc_now
from chalicelib.domain.imports import (
    ImportFormat,
    ImportJob,
    ImportKind,
    ImportSpec,
    ImportStatus,
    RowError,
    UpsertKey,
    is_target_field,
)
from chalicelib.schemas.common import RequestBody

SourceColumn = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]


_TARGETS = {
    ImportKind.CUSTOMERS: (
        "external_id, name, email, phone, birthday, gender, tags, "
        "address.<line1|line2|city|region|postal_code|country>, "
        "consent.<email_marketing|sms_marketing> or attributes.<key>"
    ),
    ImportKind.INTERACTIONS: (
        "the customer's external_id, email or phone, type, amount, currency, order_id, "
        "occurred_at, channel, location_id, name, rating, nps, text or attributes.<key>"
    ),
}

TargetField = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ImportOptions(RequestBody):
    delimiter: Annotated[str, StringConstraints(min_length=1, max_length=1)] = Field(
        ",", description="CSV: the field separator (one character; not a quote or newline)."
    )
    header_row: bool = Field(
        True,
        description="CSV: the first row names the columns. Without it, columns are mapped "
        "by position: `1`, `2`, …",
    )
    date_format: Annotated[str, StringConstraints(min_length=2, max_length=40)] = Field(
        "%Y-%m-%d", description="How `birthday` values are written (strftime codes)."
    )

    @field_validator("delimiter")
    @classmethod
    def _usable_delimiter(cls, value: str) -> str:
        if value in {'"', "\r", "\n"} or value.isalnum():
            raise ValueError("use a separator other than a quote, newline, letter or digit")
        return value


class ImportCreate(RequestBody):
    """An import: what the file holds, how its columns map to customer fields and which
    field finds an existing customer."""

    kind: ImportKind = Field(
        description="What the rows are: `customers`, or `interactions` (recorded as "
        "POST /v1/interactions:batch records them; a purchase's order id counts once)."
    )
    format: ImportFormat = Field(description="`csv` or `jsonl` (one JSON object a line).")
    upsert_key: UpsertKey = Field(
        description="The field that finds an existing customer; it must be mapped."
    )
    mapping: Annotated[dict[SourceColumn, TargetField], Field(min_length=1, max_length=100)] = (
        Field(description="Source column (CSV header or JSON key) → customer field.")
    )
    options: ImportOptions = Field(default_factory=ImportOptions)

    @field_validator("mapping")
    @classmethod
    def _one_column_per_field(cls, mapping: dict[str, str]) -> dict[str, str]:
        targets = list(mapping.values())
        twice = sorted({name for name in targets if targets.count(name) > 1})
        if twice:
            raise ValueError(f"map one column to each field, not several to {', '.join(twice)}")
        return mapping

    @field_validator("mapping")
    @classmethod
    def _targets_of_the_kind(cls, mapping: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        kind = info.data.get("kind")
        if kind is None:
            return mapping
        unknown = [column for column, t in mapping.items() if not is_target_field(t, kind)]
        if unknown:
            raise ValueError(f"column {unknown[0]!r}: map to {_TARGETS[kind]}")
        return mapping

    def to_spec(self) -> ImportSpec:
        return ImportSpec(
            kind=self.kind,
            format=self.format,
            upsert_key=self.upsert_key,
            mapping=dict(self.mapping),
            delimiter=self.options.delimiter,
            header_row=self.options.header_row,
            date_format=self.options.date_format,
        )


class ImportOptionsOut(BaseModel):
    delimiter: str
    header_row: bool
    date_format: str


class ImportUpload(BaseModel):
    method: str = Field(description="`PUT`.")
    url: str = Field(
        description="Deployed: a presigned S3 URL (valid one hour, at most 100 MB), then "
        "POST /v1/imports/{id}/start. Locally: the API's own /v1/imports/{id}/file, which "
        "starts the import."
    )


class ImportOut(BaseModel):
    id: str
    kind: ImportKind
    format: ImportFormat
    upsert_key: UpsertKey
    mapping: dict[str, str]
    options: ImportOptionsOut
    status: ImportStatus
    file_bytes: int
    bytes_done: int
    rows_done: int
    created: int
    updated: int
    unchanged: int
    failed: int
    rate: float | None = Field(description="Rows per second since processing started.")
    eta_seconds: int | None = Field(description="Estimated seconds to completion.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    failure: str | None = Field(description="Why a failed import stopped.")
    upload: ImportUpload | None = Field(
        None, description="Where to send the file, while the import awaits it."
    )

    @classmethod
    def of(cls, job: ImportJob, upload_url: str | None = None) -> ImportOut:
        now = utc_now()
        upload = None
        if job.status is ImportStatus.AWAITING_UPLOAD:
            upload = ImportUpload(method="PUT", url=upload_url or f"/v1/imports/{job.id}/file")
        return cls(
            id=job.id,
            kind=job.spec.kind,
            format=job.spec.format,
            upsert_key=job.spec.upsert_key,
            mapping=dict(job.spec.mapping),
            options=ImportOptionsOut(
                delimiter=job.spec.delimiter,
                header_row=job.spec.header_row,
                date_format=job.spec.date_format,
            ),
            status=job.status,
            file_bytes=job.file_bytes,
            bytes_done=job.checkpoint,
            rows_done=job.progress.rows_done,
            created=job.progress.created,
            updated=job.progress.updated,
            unchanged=job.progress.unchanged,
            failed=job.progress.failed,
            rate=job.rate(now),
            eta_seconds=job.eta_seconds(now),
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            failure=job.failure,
            upload=upload,
        )


class ImportPage(BaseModel):
    items: list[ImportOut]
    next_cursor: str | None


class ImportRowErrorOut(BaseModel):
    line: int = Field(description="The row's first line in the file (1-based).")
    field: str | None = Field(description="The field at fault; null for the row as a whole.")
    message: str

    @classmethod
    def of(cls, error: RowError) -> ImportRowErrorOut:
        return cls(line=error.line, field=error.field, message=error.message)


class ImportRowErrorPage(BaseModel):
    items: list[ImportRowErrorOut]
    next_cursor: str | None
