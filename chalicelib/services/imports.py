"""Bulk imports of customers (issue 16): create an import, take its file, process it in
chunks (one queue message per chunk, docs/streams.md "Bulk import"), report progress and
failed rows.

Each row is validated as the body of POST /v1/customers (`CustomerCreate`) after the
import's normalisation, then upserted by the import's key: a new customer is created; an
existing one is changed only in the fields the row names and only when that changes
something, so the same file imported again writes nothing. A chunk's rows that touch no
unique value another of its rows touches are read and written in groups; the others one
at a time in line order, with the same outcome as writing every row on its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pydantic import ValidationError

from chalicelib.dal import imports as repository
from chalicelib.dal.import_files import ImportFiles, import_files
from chalicelib.domain.clock import utc_now
from chalicelib.domain.customers import Customer, CustomerChanges, UniqueField
from chalicelib.domain.errors import (
    DomainError,
    FieldIssue,
    Forbidden,
    ImportStateConflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    UniqueConflict,
)
from chalicelib.domain.ids import is_import_id, new_import_id
from chalicelib.domain.imports import (
    ACTIVE_STATUSES,
    CHUNK_BYTES,
    CHUNK_ROWS,
    MAX_FILE_BYTES,
    MAX_ROW_BYTES,
    ImportFormat,
    ImportJob,
    ImportKind,
    ImportProgress,
    ImportSpec,
    ImportStatus,
    MappedRow,
    RowError,
    SourceRow,
    UpsertKey,
    independent_rows,
    map_customer_row,
    map_interaction_row,
    read_chunk,
    read_header,
)
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.plans import limits_of
from chalicelib.domain.tenancy import Plan, TenantId
from chalicelib.observability import BusinessMetric, count, logger

if TYPE_CHECKING:
    from chalicelib.dal.customers import CustomerWrite


@dataclass(frozen=True)
class CreatedImport:
    job: ImportJob
    upload_url: str | None
    """Deployed: a presigned PUT for the file. Locally None: PUT /v1/imports/{id}/file."""


IMPORT_ACTION = "import_customers"
"""The action the audit trail names for customers an import writes."""


def _not_found(import_id: str) -> NotFound:
    return NotFound(f"import {import_id} does not exist")


def create_import(tenant: TenantId, spec: ImportSpec, actor: str, role: str) -> CreatedImport:
    if spec.upsert_key.value not in spec.mapping.values():
        raise InvalidInput(
            [FieldIssue("mapping", f"map a column to the upsert key {spec.upsert_key.value}")]
        )
    job = ImportJob(
        id=new_import_id(),
        spec=spec,
        status=ImportStatus.AWAITING_UPLOAD,
        created_at=utc_now(),
        created_by=actor,
        created_role=role,
    )
    repository.insert_import(tenant, job)
    url = import_files().upload_url(tenant, job.id, MAX_FILE_BYTES)
    return CreatedImport(job, url)


def get_import(tenant: TenantId, import_id: str) -> ImportJob:
    job = repository.get_import(tenant, import_id) if is_import_id(import_id) else None
    if job is None:
        raise _not_found(import_id)
    return job


def list_imports(tenant: TenantId, page: PageRequest) -> Page[ImportJob]:
    return repository.list_imports(tenant, page)


def list_errors(tenant: TenantId, import_id: str, page: PageRequest) -> Page[RowError]:
    get_import(tenant, import_id)
    return repository.list_row_errors(tenant, import_id, page)


def _awaiting_upload(tenant: TenantId, import_id: str) -> ImportJob:
    job = get_import(tenant, import_id)
    if job.status is not ImportStatus.AWAITING_UPLOAD:
        raise ImportStateConflict(f"import {import_id} already has its file ({job.status})")
    return job


def upload_file(tenant: TenantId, import_id: str, data: bytes) -> ImportJob:
    """Locally: the file sent to the API itself, stored, and the import queued."""
    files = import_files()
    if not files.direct_upload:
        raise Forbidden("upload the file to the import's upload_url, then start the import")
    _awaiting_upload(tenant, import_id)
    if not data:
        raise InvalidInput([FieldIssue("body", "the file is empty")])
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"an import file may be at most {MAX_FILE_BYTES} bytes")
    files.write(tenant, import_id, data)
    repository.mark_uploaded(tenant, import_id, len(data))
    return get_import(tenant, import_id)


def start_import(tenant: TenantId, import_id: str) -> ImportJob:
    """Deployed: after the presigned upload, queue the import (its file must be there)."""
    _awaiting_upload(tenant, import_id)
    size = import_files().size(tenant, import_id)
    if not size:
        raise ImportStateConflict(f"import {import_id} has no file yet: upload it first")
    if size > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"an import file may be at most {MAX_FILE_BYTES} bytes")
    repository.mark_uploaded(tenant, import_id, size)
    return get_import(tenant, import_id)


@dataclass
class _Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def progress(self, rows: int, failed: int) -> ImportProgress:
        return ImportProgress(rows, self.created, self.updated, self.unchanged, failed)


def _row_error(line: int, error: ValidationError) -> RowError:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    return RowError(line, where, first["msg"].removeprefix("Value error, "))


def _changes_for(mapped: MappedRow) -> CustomerChanges | RowError:
    """The row as validated CustomerChanges naming only what the row holds: parsed as the
    JSON body of POST /v1/customers is, by the same model."""
    from chalicelib.schemas.customers import CustomerCreate

    body = CustomerCreate.model_validate_json(json.dumps(mapped.body))
    changes = body.to_changes()
    return CustomerChanges(
        fields=changes.fields,
        attributes=changes.attributes,
        consent=changes.consent if "consent" in mapped.named else {},
    )


def _upsert(
    tenant: TenantId, plan: Plan, spec: ImportSpec, changes: CustomerChanges, outcome: _Outcome
) -> None:
    from chalicelib.dal.customers import find_customer_id
    from chalicelib.services import customers

    key = UniqueField(spec.upsert_key.value)
    value = changes.fields.get(key.value)
    existing = find_customer_id(tenant, key, str(value)) if value else None
    if existing is None:
        customers.create_customer(tenant, plan, changes)
        outcome.created += 1
        return
    before = customers.get_customer(tenant, existing)
    after = customers.update_customer(tenant, existing, changes, expected_version=None)
    if after.version == before.version:
        outcome.unchanged += 1
    else:
        outcome.updated += 1


def _row_changes(
    job: ImportJob, values: dict[str, object], line: int, default_country: str | None
) -> CustomerChanges | RowError:
    mapped = map_customer_row(values, job.spec, default_country)
    if isinstance(mapped, RowError):
        return replace(mapped, line=line)
    if not mapped.body.get(job.spec.upsert_key.value):
        return RowError(line, job.spec.upsert_key.value, "the upsert key's value is missing")
    try:
        changes = _changes_for(mapped)
    except ValidationError as error:
        return _row_error(line, error)
    except InvalidInput as error:
        issue = error.issues[0]
        return RowError(line, issue.field, issue.message)
    return replace(changes, line=line) if isinstance(changes, RowError) else changes


def _upsert_row(
    tenant: TenantId,
    plan: Plan,
    spec: ImportSpec,
    line: int,
    changes: CustomerChanges,
    outcome: _Outcome,
) -> RowError | None:
    """One row on its own: its customer looked up, then created or changed."""
    try:
        _upsert(tenant, plan, spec, changes, outcome)
    except ValidationError as error:
        return _row_error(line, error)
    except UniqueConflict as error:
        return RowError(line, error.field_name, "another customer already has this value")
    except InvalidInput as error:
        issue = error.issues[0]
        return RowError(line, issue.field, issue.message)
    except QuotaExceeded as error:
        return RowError(line, None, error.detail)
    return None


@dataclass(frozen=True)
class _PlannedRow:
    line: int
    write: CustomerWrite | None
    """None: the row changes nothing."""
    touched: frozenset[tuple[str, str]]


def _unique_pairs(values: dict[UniqueField, str]) -> set[tuple[str, str]]:
    return {(field.value, value) for field, value in values.items()}


def _named_pairs(changes: CustomerChanges) -> set[tuple[str, str]]:
    return {
        (field.value, str(value))
        for field in UniqueField
        if (value := changes.fields.get(field.value)) is not None
    }


def _plan_row(
    key: UniqueField,
    line: int,
    changes: CustomerChanges,
    holders: dict[str, str],
    profiles: dict[str, Customer],
) -> _PlannedRow | None:
    """The row's write against the customers read, and the unique values it touches; None
    when it cannot be planned here (its customer's profile is missing, its changes are
    refused): then it is written on its own, which reports why."""
    from chalicelib.dal.customers import CustomerWrite
    from chalicelib.services import customers

    named = _named_pairs(changes)
    holder = holders.get(str(changes.fields[key.value]))
    try:
        if holder is None:
            created = customers.new_customer(changes)
            return _PlannedRow(line, CustomerWrite(None, created), frozenset(named))
        before = profiles.get(holder)
        if before is None:
            return None
        after = customers.changed_customer(before, changes)
    except (DomainError, ValueError):
        return None
    if after is None:
        return _PlannedRow(line, None, frozenset(named))
    touched = named | _unique_pairs(before.unique_values()) | _unique_pairs(after.unique_values())
    return _PlannedRow(line, CustomerWrite(before, after), frozenset(touched))


def _has_room(tenant: TenantId, plan: Plan, rows: int) -> bool:
    """Whether every row could create a customer within the plan's limit (else rows are
    written one at a time, so the limit falls on the same rows as in file order)."""
    from chalicelib.dal.customers import customer_count

    limit = limits_of(plan).max_customers
    return limit is None or customer_count(tenant) + rows <= limit


def _write_together(
    tenant: TenantId,
    plan: Plan,
    spec: ImportSpec,
    ready: list[tuple[int, CustomerChanges]],
    outcome: _Outcome,
) -> list[tuple[int, CustomerChanges]]:
    """Writes the rows independent of the chunk's others together (`write_customers`),
    after reading their customers in batches; answers the rows left to write one at a
    time, in line order: those touching a value another row touches, those not planned,
    and those whose write was not committed (a claim taken meanwhile, a version moved)."""
    from chalicelib.dal import customers as customer_store

    if not _has_room(tenant, plan, len(ready)):
        return ready
    key = UniqueField(spec.upsert_key.value)
    holders = customer_store.find_customer_ids(
        tenant, key, [str(changes.fields[key.value]) for _, changes in ready]
    )
    profiles = {
        customer.id: customer
        for customer in customer_store.get_customers(
            tenant, sorted(set(holders.values())), consistent_read=True
        )
    }
    planned = [_plan_row(key, line, changes, holders, profiles) for line, changes in ready]
    alone = independent_rows(
        [
            row.touched if row else frozenset(_named_pairs(changes))
            for row, (_, changes) in zip(planned, ready, strict=True)
        ]
    )
    together = [row for row, ok in zip(planned, alone, strict=True) if row is not None and ok]
    writes = [(row.line, row.write) for row in together if row.write is not None]
    committed = customer_store.write_customers(
        tenant, [write for _, write in writes], limits_of(plan).max_customers
    )
    done = {row.line for row in together if row.write is None}
    outcome.unchanged += len(done)
    for (line, write), ok in zip(writes, committed, strict=True):
        if ok:
            done.add(line)
            if write.before is None:
                outcome.created += 1
                count(BusinessMetric.CUSTOMERS_CREATED)
            else:
                outcome.updated += 1
    return [(line, changes) for line, changes in ready if line not in done]


def _import_customers(
    tenant: TenantId,
    plan: Plan,
    job: ImportJob,
    rows: list[SourceRow],
    default_country: str | None,
    outcome: _Outcome,
    grouped: bool,
) -> list[RowError]:
    """The chunk's customer rows: validated, then (`grouped`) those that can be written
    together first, and the others one at a time in line order."""
    errors: list[RowError] = []
    ready: list[tuple[int, CustomerChanges]] = []
    for row in rows:
        changes = _row_changes(job, row.values, row.line, default_country)
        if isinstance(changes, RowError):
            errors.append(changes)
        else:
            ready.append((row.line, changes))
    if grouped and ready:
        ready = _write_together(tenant, plan, job.spec, ready, outcome)
    for line, changes in ready:
        error = _upsert_row(tenant, plan, job.spec, line, changes, outcome)
        if error is not None:
            errors.append(error)
    return errors


def _interaction_item(
    tenant: TenantId, spec: ImportSpec, row: SourceRow, default_country: str | None
) -> dict[str, object] | RowError:
    """The row as an item of POST /v1/interactions:batch, its customer found by the
    import's key (external ids are passed on; an email or phone is looked up)."""
    from chalicelib.dal.customers import find_customer_id

    mapped = map_interaction_row(row.values, spec, default_country)
    if isinstance(mapped, RowError):
        return replace(mapped, line=row.line)
    key = spec.upsert_key.value
    if mapped.locator is None:
        return RowError(row.line, key, "the customer's key is missing")
    if spec.upsert_key is UpsertKey.EXTERNAL_ID:
        return {**mapped.item, "external_id": mapped.locator}
    customer_id = find_customer_id(tenant, UniqueField(key), mapped.locator)
    if customer_id is None:
        return RowError(row.line, key, f"no customer has this {key}")
    return {**mapped.item, "customer_id": customer_id}


def _item_field(path: str, item: dict[str, object]) -> str:
    """`items.3.purchase.amount` (a batch item's field, under its type) as `amount`."""
    parts = path.split(".")
    if parts[:1] == ["items"]:
        parts = parts[2:]
    if parts[:1] == [item.get("type")] and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "type"


def _import_interactions(
    tenant: TenantId,
    plan: Plan,
    job: ImportJob,
    offset: int,
    rows: list[SourceRow],
    default_country: str | None,
    outcome: _Outcome,
) -> list[RowError]:
    """Records the rows as POST /v1/interactions:batch does (validation, points, the
    order claim that makes a purchase count once), a batch of the plan's size at a time.
    Each batch's Idempotency-Key is the import, chunk and batch: a chunk processed again
    answers the first outcome and records nothing twice."""
    from chalicelib.schemas.interactions import InteractionsBatch
    from chalicelib.services import loyalty

    errors: list[RowError] = []
    pending: list[tuple[int, dict[str, object]]] = []
    for row in rows:
        item = _interaction_item(tenant, job.spec, row, default_country)
        if isinstance(item, RowError):
            errors.append(item)
        else:
            pending.append((row.line, item))
    size = limits_of(plan).max_batch_size
    for start in range(0, len(pending), size):
        group = pending[start : start + size]
        batch = InteractionsBatch.model_validate_json(
            json.dumps({"items": [item for _, item in group]}, default=str)
        )
        parsed = batch.parsed()
        lines = [line for line, _ in group]
        valid = [
            (line, parsed_item)
            for line, parsed_item in zip(lines, parsed, strict=True)
            if not isinstance(parsed_item, InvalidInput)
        ]
        for (line, item), parsed_item in zip(group, parsed, strict=True):
            if isinstance(parsed_item, InvalidInput):
                issue = parsed_item.issues[0]
                errors.append(RowError(line, _item_field(issue.field, item), issue.message))
        if not valid:
            continue
        result = loyalty.record_batch(
            tenant,
            [item for _, item in valid],
            job.created_by,
            f"import:{job.id}:{offset}:{start}",
            size,
        )
        for (line, _), answer in zip(valid, result.items, strict=True):
            if answer.outcome == "created":
                outcome.created += 1
            elif answer.outcome == "duplicate":
                outcome.unchanged += 1
            else:
                errors.append(RowError(line, None, answer.detail or answer.error or "failed"))
    return errors


def _tenant_default_country(tenant: TenantId) -> str | None:
    from chalicelib.services.tenant_config import get_tenant_config

    return get_tenant_config(tenant).imports.default_country


def _header_and_start(
    files: ImportFiles, tenant: TenantId, job: ImportJob, offset: int
) -> tuple[list[str] | None, int, int] | str:
    """The CSV header's columns (None without one) and where the chunk's rows start (byte
    offset and line: past the header for the first chunk); or why the import cannot go on."""
    spec = job.spec
    if spec.format is not ImportFormat.CSV or not spec.header_row:
        return None, offset, job.next_line
    head = files.read(tenant, job.id, 0, MAX_ROW_BYTES + 1)
    columns = read_header(head, spec)
    if isinstance(columns, RowError):
        return columns.message
    missing = sorted(set(spec.mapping) - set(columns))
    if missing:
        return f"the header has no column {', '.join(missing)}"
    if offset > 0:
        return columns, offset, job.next_line
    after_header = read_chunk(head, 0, 1, job.file_bytes, spec, None, max_rows=1)
    return columns, after_header.end_offset, after_header.next_line


def process_chunk(
    tenant: TenantId, plan: Plan, import_id: str, offset: int, grouped: bool = True
) -> bool:
    """Processes the chunk of the import's file that starts at `offset`, if that is still
    the import's checkpoint (a message for a chunk already done changes nothing). Answers
    whether this call moved the checkpoint. Customer rows are written in groups unless
    `grouped` is False: then each row on its own, in line order (the reference the grouped
    writes must match)."""
    job = repository.get_import(tenant, import_id)
    if job is None or job.status not in ACTIVE_STATUSES or job.checkpoint != offset:
        return False
    files = import_files()
    spec = job.spec
    position = _header_and_start(files, tenant, job, offset)
    if isinstance(position, str):
        return repository.mark_failed(tenant, job, position, utc_now())
    header, start, line = position
    data = files.read(tenant, import_id, start, CHUNK_BYTES + MAX_ROW_BYTES)
    chunk = read_chunk(data, start, line, job.file_bytes, spec, header, max_rows=CHUNK_ROWS)
    default_country = _tenant_default_country(tenant)
    outcome = _Outcome()
    errors: list[RowError] = [row.error for row in chunk.rows if row.error is not None]
    readable = [row for row in chunk.rows if row.error is None]
    if spec.kind is ImportKind.INTERACTIONS:
        errors += _import_interactions(
            tenant, plan, job, offset, readable, default_country, outcome
        )
    else:
        errors += _import_customers(tenant, plan, job, readable, default_country, outcome, grouped)
    errors.sort(key=lambda error: error.line)
    if errors:
        repository.put_row_errors(tenant, import_id, errors)
    progress = outcome.progress(len(chunk.rows), len(errors))
    moved = repository.advance(
        tenant, job, chunk.end_offset, chunk.next_line, progress, chunk.at_end, utc_now()
    )
    if moved and chunk.at_end:
        files.remove(tenant, import_id)
    logger.info(
        "import chunk",
        import_id=import_id,
        offset=offset,
        rows=len(chunk.rows),
        failed=len(errors),
        finished=chunk.at_end,
    )
    return moved


def process_chunk_as_creator(
    tenant: TenantId, import_id: str, offset: int, grouped: bool = True
) -> bool:
    """The import worker's entry: the chunk at `offset`, written (and so audited) as the
    key that created the import, within the tenant's plan. A tenant no longer active
    imports nothing more."""
    from chalicelib.dal import control
    from chalicelib.dal.attribution import writing_as
    from chalicelib.domain.audit import Writer
    from chalicelib.domain.tenancy import TenantStatus

    owner = control.get_tenant(tenant)
    job = repository.get_import(tenant, import_id)
    if owner is None or owner.status is not TenantStatus.ACTIVE or job is None:
        return False
    writer = Writer(job.created_by, job.created_role, import_id, IMPORT_ACTION)
    with writing_as(writer):
        return process_chunk(tenant, owner.plan, import_id, offset, grouped)


def fail_import(tenant: TenantId, import_id: str, error: DomainError | Exception) -> None:
    """The last attempt at a chunk failed: the import stops, named as failed."""
    job = repository.get_import(tenant, import_id)
    if job is not None and job.status in ACTIVE_STATUSES:
        repository.mark_failed(
            tenant, job, f"processing stopped: {type(error).__name__}", utc_now()
        )
