"""Bulk imports (issue 16): what an import is, how its file is read in resumable chunks and
how a source row becomes the input of POST /v1/customers.

A chunk starts at a byte offset of the file (the checkpoint) and ends at a record
boundary, so a chunk read again from the same offset yields the same rows with the same
line numbers: processing is resumable and, with upserts that change nothing the second
time, idempotent.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

MAX_FILE_BYTES: Final = 100 * 1024 * 1024
MAX_ROW_BYTES: Final = 64 * 1024
CHUNK_BYTES: Final = 1024 * 1024
CHUNK_ROWS: Final = 500
ADDRESS_FIELDS: Final = ("line1", "line2", "city", "region", "postal_code", "country")
CONSENT_FIELDS: Final = ("email_marketing", "sms_marketing")
CUSTOMER_FIELDS: Final = frozenset(
    {"external_id", "name", "email", "phone", "birthday", "gender", "tags"}
    | {f"address.{name}" for name in ADDRESS_FIELDS}
    | {f"consent.{name}" for name in CONSENT_FIELDS}
)
ATTRIBUTE_PREFIX: Final = "attributes."
INTERACTION_FIELDS: Final = frozenset(
    {"type", "amount", "currency", "order_id", "occurred_at", "channel", "location_id"}
    | {"name", "rating", "nps", "text"}
)
CUSTOMER_LOCATORS: Final = frozenset({"external_id", "email", "phone"})
_WHOLE_NUMBERS: Final = frozenset({"rating", "nps"})
_TRUE: Final = frozenset({"true", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "no", "n", "0", ""})


class ImportKind(StrEnum):
    CUSTOMERS = "customers"
    INTERACTIONS = "interactions"


class ImportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class UpsertKey(StrEnum):
    EXTERNAL_ID = "external_id"
    EMAIL = "email"
    PHONE = "phone"


class ImportStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


ACTIVE_STATUSES: Final = frozenset({ImportStatus.QUEUED, ImportStatus.RUNNING})


def is_target_field(name: str, kind: ImportKind = ImportKind.CUSTOMERS) -> bool:
    """A field a source column may map to. Customers: a profile field, `address.*`,
    `consent.*` or `attributes.<key>`; interactions: a field of POST
    /v1/customers/{id}/interactions, `attributes.<key>`, or the customer's external_id,
    email or phone (by which the row names its customer)."""
    fields = CUSTOMER_FIELDS if kind is ImportKind.CUSTOMERS else INTERACTION_FIELDS
    if kind is ImportKind.INTERACTIONS:
        fields = fields | CUSTOMER_LOCATORS
    return name in fields or (
        name.startswith(ATTRIBUTE_PREFIX) and len(name) > len(ATTRIBUTE_PREFIX)
    )


@dataclass(frozen=True)
class ImportSpec:
    kind: ImportKind
    format: ImportFormat
    upsert_key: UpsertKey
    mapping: Mapping[str, str]
    """Source column (CSV header or JSON key) → target field."""
    delimiter: str = ","
    header_row: bool = True
    date_format: str = "%Y-%m-%d"
    """strptime format of `birthday` values (ISO dates by default)."""

    @property
    def csv_columns_by_position(self) -> bool:
        return self.format is ImportFormat.CSV and not self.header_row


@dataclass(frozen=True)
class ImportProgress:
    rows_done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def plus(self, other: ImportProgress) -> ImportProgress:
        return ImportProgress(
            rows_done=self.rows_done + other.rows_done,
            created=self.created + other.created,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            failed=self.failed + other.failed,
        )


@dataclass(frozen=True)
class ImportJob:
    id: str
    spec: ImportSpec
    status: ImportStatus
    created_at: datetime
    created_by: str
    created_role: str
    file_bytes: int = 0
    checkpoint: int = 0
    """Byte offset of the first row not yet processed."""
    next_line: int = 1
    """Line number (1-based, physical lines) of the row at `checkpoint`."""
    progress: ImportProgress = ImportProgress()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    failure: str | None = None

    def rate(self, now: datetime) -> float | None:
        """Rows per second since processing started."""
        if self.started_at is None or self.progress.rows_done == 0:
            return None
        end = self.finished_at or now
        seconds = max((end - self.started_at).total_seconds(), 0.001)
        return round(self.progress.rows_done / seconds, 1)

    def eta_seconds(self, now: datetime) -> int | None:
        """From the share of the file's bytes done and the time that took."""
        if self.status is ImportStatus.COMPLETED:
            return 0
        if self.started_at is None or self.checkpoint == 0 or self.file_bytes == 0:
            return None
        elapsed = (now - self.started_at).total_seconds()
        remaining = self.file_bytes - self.checkpoint
        return max(0, round(elapsed * remaining / self.checkpoint))


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str


@dataclass(frozen=True)
class SourceRow:
    """One record of the file: its first line number, the byte offset after it and its
    values by source column, or why it could not be read."""

    line: int
    end_offset: int
    values: dict[str, object] = field(default_factory=dict)
    error: RowError | None = None


@dataclass(frozen=True)
class Chunk:
    rows: list[SourceRow]
    end_offset: int
    next_line: int
    at_end: bool


def _record_ends(buffer: bytes, start: int, csv_quotes: bool) -> int | None:
    """The offset after the record starting at `start` (its closing newline included), or
    None when the buffer holds no complete record. A CSV record spans lines while a quoted
    field is open: its quotes (doubled when escaped) are then odd in number."""
    position = start
    quotes = 0
    while True:
        newline = buffer.find(b"\n", position)
        if newline < 0:
            return None
        if csv_quotes:
            quotes += buffer.count(b'"', position, newline)
            if quotes % 2:
                position = newline + 1
                continue
        return newline + 1


def _decode(raw: bytes, line: int) -> str | RowError:
    try:
        return raw.decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        return RowError(line, None, f"not UTF-8 text (byte {exc.start + 1} of the row)")


def read_header(data: bytes, spec: ImportSpec) -> list[str] | RowError:
    """The CSV header's column names (from the file's first record)."""
    end = _record_ends(data, 0, csv_quotes=True)
    raw = data if end is None else data[:end]
    if len(raw) > MAX_ROW_BYTES:
        return RowError(1, None, f"the header row is longer than {MAX_ROW_BYTES} bytes")
    text = _decode(raw, 1)
    if isinstance(text, RowError):
        return text
    columns = next(csv.reader(io.StringIO(text), delimiter=spec.delimiter), [])
    return [column.strip() for column in columns]


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _parse_record(text: str, line: int, spec: ImportSpec, header: list[str] | None) -> SourceRow:
    if spec.format is ImportFormat.JSONL:
        try:
            document = json.loads(text, parse_constant=_refuse_constant)
        except ValueError:
            return SourceRow(line, 0, error=RowError(line, None, "not a JSON object"))
        if not isinstance(document, dict):
            return SourceRow(line, 0, error=RowError(line, None, "not a JSON object"))
        return SourceRow(line, 0, values=document)
    try:
        cells = next(csv.reader(io.StringIO(text), delimiter=spec.delimiter, strict=True), [])
    except csv.Error as exc:
        return SourceRow(line, 0, error=RowError(line, None, f"not valid CSV: {exc}"))
    if header is None:
        return SourceRow(line, 0, values={str(i + 1): cell for i, cell in enumerate(cells)})
    if len(cells) != len(header):
        message = f"has {len(cells)} columns, the header {len(header)}"
        return SourceRow(line, 0, error=RowError(line, None, message))
    return SourceRow(line, 0, values=dict(zip(header, cells, strict=True)))


def read_chunk(
    data: bytes,
    base_offset: int,
    first_line: int,
    file_bytes: int,
    spec: ImportSpec,
    header: list[str] | None,
    max_rows: int = CHUNK_ROWS,
) -> Chunk:
    """The records of `data` (the file's bytes from `base_offset`) up to `max_rows` or
    CHUNK_BYTES, ending at a record boundary. Blank lines are skipped; a record over
    MAX_ROW_BYTES is reported and skipped; the last record may lack its newline."""
    rows: list[SourceRow] = []
    position = 0
    line = first_line
    csv_quotes = spec.format is ImportFormat.CSV
    while len(rows) < max_rows and position < len(data) and position < CHUNK_BYTES:
        end = _record_ends(data, position, csv_quotes)
        at_file_end = base_offset + len(data) >= file_bytes
        if end is None:
            if not at_file_end and len(data) - position <= MAX_ROW_BYTES:
                break  # the record goes on past what was read: the next chunk reads it
            end = len(data) if at_file_end else position + MAX_ROW_BYTES
        raw = data[position:end]
        lines = raw.count(b"\n") or 1
        if end - position > MAX_ROW_BYTES:
            error = RowError(line, None, f"the row is longer than {MAX_ROW_BYTES} bytes")
            rows.append(SourceRow(line, base_offset + end, error=error))
        elif raw.strip():
            text = _decode(raw, line)
            if isinstance(text, RowError):
                rows.append(SourceRow(line, base_offset + end, error=text))
            else:
                row = _parse_record(text, line, spec, header)
                rows.append(SourceRow(line, base_offset + end, values=row.values, error=row.error))
        position = end
        line += lines
    end_offset = base_offset + position
    return Chunk(rows, end_offset, line, end_offset >= file_bytes)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def _flag(value: object, target: str) -> bool | RowError:
    if isinstance(value, bool):
        return value
    text = (_text(value) or "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return RowError(0, target, "use true or false (or yes/no, 1/0)")


def _birthday(value: object, spec: ImportSpec) -> str | RowError:
    text = _text(value) or ""
    try:
        return datetime.strptime(text, spec.date_format).date().isoformat()
    except ValueError:
        return RowError(0, "birthday", f"not a date in the format {spec.date_format}")


def _attribute(value: object) -> object:
    if isinstance(value, bool | int | float) or value is None:
        return value
    return _text(value)


@dataclass(frozen=True)
class MappedRow:
    """A row as the body of POST /v1/customers (normalised, not yet validated) and the
    profile fields it names (only those change on an existing customer)."""

    body: dict[str, object]
    named: frozenset[str]


def _phone(value: object, default_country: str | None) -> str | RowError:
    from chalicelib.domain.customers import normalise_phone

    try:
        return normalise_phone(_text(value) or "", default_country=default_country)
    except ValueError as exc:
        return RowError(0, "phone", str(exc))


def _tags(value: object) -> list[str]:
    raw = _text(value) or ""
    return [tag.strip() for tag in raw.replace(";", ",").split(",") if tag.strip()]


def _value_for(target: str, value: object, spec: ImportSpec, default_country: str | None) -> object:
    """One cell as the value of its target field (a RowError when it cannot be one)."""
    if target == "phone":
        return _phone(value, default_country)
    if target == "birthday":
        return _birthday(value, spec)
    if target == "tags":
        return _tags(value)
    if target == "email":
        return (_text(value) or "").lower()
    if target.startswith("consent."):
        return _flag(value, target)
    if target.startswith(ATTRIBUTE_PREFIX):
        return _attribute(value)
    return _text(value)


def map_customer_row(
    values: Mapping[str, object], spec: ImportSpec, default_country: str | None
) -> MappedRow | RowError:
    """Applies the mapping: text trimmed, emails lower-cased, empty cells left out (they
    neither set nor clear), phones without a country code read in `default_country`,
    dates in the spec's format, tags split on `;` or `,`, consent flags as booleans."""
    body: dict[str, object] = {}
    nested: dict[str, dict[str, object]] = {}
    for column, target in spec.mapping.items():
        raw = values.get(column)
        if _text(raw) is None:
            continue
        value = _value_for(target, raw, spec, default_country)
        if isinstance(value, RowError):
            return value
        section, dot, name = target.partition(".")
        if dot:
            nested.setdefault(section, {})[name] = value
        else:
            body[target] = value
    body.update(nested)
    return MappedRow(body, frozenset(body))


@dataclass(frozen=True)
class MappedInteraction:
    """A row as one item of POST /v1/interactions:batch (not yet validated), less its
    customer, and the value of the import's key that names the customer."""

    locator: str | None
    item: dict[str, object]


def _whole_number(value: object, target: str) -> object:
    text = _text(value) or ""
    return int(text) if text.lstrip("-").isdigit() else value


def map_interaction_row(
    values: Mapping[str, object], spec: ImportSpec, default_country: str | None
) -> MappedInteraction | RowError:
    """Applies the mapping: text trimmed, numbers for `rating` and `nps`, the customer's
    key normalised as a customer row's would be (so it finds the same customer)."""
    item: dict[str, object] = {}
    attributes: dict[str, object] = {}
    locator: str | None = None
    for column, target in spec.mapping.items():
        raw = values.get(column)
        if _text(raw) is None:
            continue
        if target == spec.upsert_key.value:
            key = _value_for(target, raw, spec, default_country)
            if isinstance(key, RowError):
                return key
            locator = str(key)
        elif target.startswith(ATTRIBUTE_PREFIX):
            attributes[target.removeprefix(ATTRIBUTE_PREFIX)] = _attribute(raw)
        elif target in _WHOLE_NUMBERS:
            item[target] = _whole_number(raw, target)
        elif target in INTERACTION_FIELDS:
            item[target] = raw if isinstance(raw, int | float) else _text(raw)
    if attributes:
        item["attributes"] = attributes
    return MappedInteraction(locator, item)


def independent_rows(touched: Sequence[frozenset[tuple[str, str]]]) -> list[bool]:
    """Which rows of a chunk touch no unique value (field, value) that another row of the
    chunk touches (names, or frees from the customer it changes). Such rows give the same
    outcome whatever order they are written in, before or after the others; the rest are
    written one at a time in line order."""
    seen = Counter(value for values in touched for value in values)
    return [all(seen[value] == 1 for value in values) for values in touched]
