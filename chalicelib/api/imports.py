"""Bulk import routes (issue 16): create an import, send its file, follow its progress
and read its failed rows."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.domain.paging import PageRequest
from chalicelib.schemas.common import PageQuery
from chalicelib.schemas.imports import (
    ImportCreate,
    ImportOut,
    ImportPage,
    ImportRowErrorOut,
    ImportRowErrorPage,
)
from chalicelib.services import imports as service

imports_api = Operations(__name__)

FILE_MEDIA_TYPES = ("text/csv", "application/x-ndjson", "application/octet-stream")


@imports_api.operation(
    "POST",
    "/v1/imports",
    summary="Create an import",
    tag="imports",
    body=ImportCreate,
    response=ImportOut,
    status=202,
)
def create_import(call: Call[ImportCreate, None]) -> Reply:
    """Answers the import (`awaiting_upload`) and where to send its file (`upload`, at
    most 100 MB). Its rows are processed in the background once the file is there."""
    principal = call.principal
    role = principal.role.value if principal is not None else ""
    created = service.create_import(call.tenant, call.body.to_spec(), call.actor, role)
    reply = Reply(ImportOut.of(created.job, created.upload_url), 202)
    reply.headers["Location"] = f"/v1/imports/{created.job.id}"
    return reply


@imports_api.operation(
    "PUT",
    "/v1/imports/{import_id}/file",
    summary="Send an import's file (local stage)",
    tag="imports",
    response=ImportOut,
    status=202,
    extra_responses=(403, 409, 413),
    file_media_types=FILE_MEDIA_TYPES,
)
def upload_import_file(call: Call[None, None], import_id: str) -> Reply:
    """Locally, the file itself (UTF-8 CSV or JSON Lines); the import is then queued.
    Deployed stages refuse it (403): their API takes at most 10 MB, so files go to the
    presigned `upload.url` instead."""
    return Reply(ImportOut.of(service.upload_file(call.tenant, import_id, call.raw_body)), 202)


@imports_api.operation(
    "POST",
    "/v1/imports/{import_id}/start",
    summary="Start an import after its presigned upload",
    tag="imports",
    response=ImportOut,
    status=202,
    extra_responses=(409, 413),
)
def start_import(call: Call[None, None], import_id: str) -> Reply:
    """Deployed: queues the import once its file was PUT to the presigned URL (409 while
    there is no file)."""
    return Reply(ImportOut.of(service.start_import(call.tenant, import_id)), 202)


@imports_api.operation(
    "GET",
    "/v1/imports",
    summary="List imports",
    tag="imports",
    query=PageQuery,
    response=ImportPage,
)
def list_imports(call: Call[None, PageQuery]) -> Reply:
    """The tenant's imports, newest first."""
    page = service.list_imports(call.tenant, PageRequest(call.query.limit, call.query.cursor))
    return Reply(
        ImportPage(items=[ImportOut.of(job) for job in page.items], next_cursor=page.next_cursor)
    )


@imports_api.operation(
    "GET",
    "/v1/imports/{import_id}",
    summary="An import's progress",
    tag="imports",
    response=ImportOut,
)
def get_import(call: Call[None, None], import_id: str) -> Reply:
    """Status, rows done (created, updated, unchanged, failed), rate and ETA."""
    return Reply(ImportOut.of(service.get_import(call.tenant, import_id)))


@imports_api.operation(
    "GET",
    "/v1/imports/{import_id}/errors",
    summary="An import's failed rows",
    tag="imports",
    query=PageQuery,
    response=ImportRowErrorPage,
)
def list_import_errors(call: Call[None, PageQuery], import_id: str) -> Reply:
    """Each failed row by line number, with the field at fault and why."""
    page = service.list_errors(
        call.tenant, import_id, PageRequest(call.query.limit, call.query.cursor)
    )
    return Reply(
        ImportRowErrorPage(
            items=[ImportRowErrorOut.of(error) for error in page.items],
            next_cursor=page.next_cursor,
        )
    )
