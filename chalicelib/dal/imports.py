"""Import repository: imports, their checkpoints and failed rows (docs/data-model.md,
"Bulk import")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib.dal import keys
from chalicelib.dal.connection import bound_settings
from chalicelib.dal.cursors import page_of
from chalicelib.dal.import_models import ImportErrorItem, ImportItem
from chalicelib.domain.errors import ImportStateConflict
from chalicelib.domain.imports import (
    ImportFormat,
    ImportJob,
    ImportKind,
    ImportProgress,
    ImportSpec,
    ImportStatus,
    RowError,
    UpsertKey,
)
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId


def _to_item(tenant: TenantId, job: ImportJob) -> ImportItem:
    spec = job.spec
    return ImportItem(
        pk=keys.imports_pk(tenant),
        sk=keys.import_sk(job.id),
        tenant_id=tenant,
        import_id=job.id,
        kind=spec.kind.value,
        format=spec.format.value,
        upsert_key=spec.upsert_key.value,
        mapping=dict(spec.mapping),
        delimiter=spec.delimiter,
        header_row=spec.header_row,
        date_format=spec.date_format,
        status=job.status.value,
        created_at=job.created_at,
        created_by=job.created_by,
        created_role=job.created_role,
    )


def _to_job(item: ImportItem) -> ImportJob:
    spec = ImportSpec(
        kind=ImportKind(item.kind),
        format=ImportFormat(item.format),
        upsert_key=UpsertKey(item.upsert_key),
        mapping=item.mapping.as_dict(),
        delimiter=item.delimiter,
        header_row=bool(item.header_row),
        date_format=item.date_format,
    )
    return ImportJob(
        id=item.import_id,
        spec=spec,
        status=ImportStatus(item.status),
        created_at=item.created_at,
        created_by=item.created_by,
        created_role=item.created_role,
        file_bytes=int(item.file_bytes),
        checkpoint=int(item.checkpoint),
        next_line=int(item.next_line),
        progress=ImportProgress(
            rows_done=int(item.rows_done),
            created=int(item.created),
            updated=int(item.updated),
            unchanged=int(item.unchanged),
            failed=int(item.failed),
        ),
        started_at=item.started_at,
        finished_at=item.finished_at,
        failure=item.failure,
    )


def insert_import(tenant: TenantId, job: ImportJob) -> ImportJob:
    bound_settings()
    _to_item(tenant, job).save(condition=ImportItem.pk.does_not_exist())
    return job


def get_import(tenant: TenantId, import_id: str) -> ImportJob | None:
    bound_settings()
    try:
        item = ImportItem.get(
            keys.imports_pk(tenant), keys.import_sk(import_id), consistent_read=True
        )
    except ImportItem.DoesNotExist:
        return None
    return _to_job(item)


def list_imports(tenant: TenantId, page: PageRequest) -> Page[ImportJob]:
    """Newest first: one Query of the tenant's imports partition (ids sort by time)."""
    bound_settings()
    items, next_cursor = page_of(
        tenant,
        "imports:list",
        page,
        lambda start, limit: ImportItem.query(
            keys.imports_pk(tenant),
            ImportItem.sk.startswith("IMP#"),
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
    )
    return Page([_to_job(item) for item in items], next_cursor)


def _conditional_update(
    tenant: TenantId, import_id: str, actions: list[Action], condition: object
) -> bool:
    item = ImportItem(pk=keys.imports_pk(tenant), sk=keys.import_sk(import_id))
    try:
        item.update(actions, condition=condition)  # type: ignore[arg-type]
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_uploaded(tenant: TenantId, import_id: str, file_bytes: int) -> None:
    """awaiting_upload → queued, with the file's size; the data stream then queues the
    first chunk. A second upload is refused."""
    bound_settings()
    done = _conditional_update(
        tenant,
        import_id,
        [ImportItem.status.set(ImportStatus.QUEUED.value), ImportItem.file_bytes.set(file_bytes)],
        ImportItem.status == ImportStatus.AWAITING_UPLOAD.value,
    )
    if not done:
        raise ImportStateConflict(f"import {import_id} already has its file")


def advance(
    tenant: TenantId,
    job: ImportJob,
    end_offset: int,
    next_line: int,
    done: ImportProgress,
    finished: bool,
    now: datetime,
) -> bool:
    """Moves the checkpoint from `job.checkpoint` to `end_offset` and adds the chunk's
    counts, only if no one moved it first (a redelivered chunk message changes nothing)."""
    bound_settings()
    status = ImportStatus.COMPLETED if finished else ImportStatus.RUNNING
    actions: list[Action] = [
        ImportItem.checkpoint.set(end_offset),
        ImportItem.next_line.set(next_line),
        ImportItem.status.set(status.value),
        ImportItem.rows_done.add(done.rows_done),
        ImportItem.created.add(done.created),
        ImportItem.updated.add(done.updated),
        ImportItem.unchanged.add(done.unchanged),
        ImportItem.failed.add(done.failed),
    ]
    if job.started_at is None:
        actions.append(ImportItem.started_at.set(now))
    if finished:
        actions.append(ImportItem.finished_at.set(now))
    condition = (ImportItem.checkpoint == job.checkpoint) & ImportItem.status.is_in(
        ImportStatus.QUEUED.value, ImportStatus.RUNNING.value
    )
    return _conditional_update(tenant, job.id, actions, condition)


def mark_failed(tenant: TenantId, job: ImportJob, reason: str, now: datetime) -> bool:
    bound_settings()
    actions: list[Action] = [
        ImportItem.status.set(ImportStatus.FAILED.value),
        ImportItem.failure.set(reason),
        ImportItem.finished_at.set(now),
    ]
    condition = (ImportItem.checkpoint == job.checkpoint) & ImportItem.status.is_in(
        ImportStatus.QUEUED.value, ImportStatus.RUNNING.value
    )
    return _conditional_update(tenant, job.id, actions, condition)


def put_row_errors(tenant: TenantId, import_id: str, errors: Sequence[RowError]) -> None:
    """BatchWriteItem of the chunk's failed rows; one item per line, so writing them again
    replaces them with the same."""
    bound_settings()
    with ImportErrorItem.batch_write() as batch:
        for error in errors:
            batch.save(
                ImportErrorItem(
                    pk=keys.import_errors_pk(tenant, import_id),
                    sk=keys.import_error_sk(error.line),
                    tenant_id=tenant,
                    import_id=import_id,
                    line=error.line,
                    field=error.field,
                    message=error.message,
                )
            )


def list_row_errors(tenant: TenantId, import_id: str, page: PageRequest) -> Page[RowError]:
    """By line: one Query of the import's errors partition per page."""
    bound_settings()
    items, next_cursor = page_of(
        tenant,
        f"imports:{import_id}:errors",
        page,
        lambda start, limit: ImportErrorItem.query(
            keys.import_errors_pk(tenant, import_id),
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
    )
    return Page([RowError(int(item.line), item.field, item.message) for item in items], next_cursor)
