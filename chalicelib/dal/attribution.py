"""Who is writing. Every item written through a data-table model names the actor, role,
request and operation that wrote it (the `written_*` attributes), so a stream record alone
says who made a change; the audit trail reads them (docs/streams.md).

The writer is set once per request (chalicelib.api.routing) or per stream batch and job,
and read here when an item is serialised or updated: no repository passes it around.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from chalicelib.domain.audit import Writer

WRITTEN_BY = "written_by"
WRITTEN_ROLE = "written_role"
WRITTEN_REQUEST = "written_request"
WRITTEN_ACTION = "written_action"
WRITER_ATTRIBUTES = (WRITTEN_BY, WRITTEN_ROLE, WRITTEN_REQUEST, WRITTEN_ACTION)

_writer: ContextVar[Writer | None] = ContextVar("customer_ops_writer", default=None)


@contextmanager
def writing_as(writer: Writer) -> Iterator[Writer]:
    token = _writer.set(writer)
    try:
        yield writer
    finally:
        _writer.reset(token)


def system_writer(function: str, event: object) -> Writer:
    """Who a stream or scheduled function writes as (`event` is Chalice's, with the
    Lambda context that names the invocation)."""
    context = getattr(event, "context", None)
    request_id = str(getattr(context, "aws_request_id", "") or "")
    return Writer(f"system:{function}", "system", request_id, function)


def current_writer() -> Writer | None:
    return _writer.get()


def writer_values(writer: Writer) -> dict[str, str]:
    return {
        WRITTEN_BY: writer.actor,
        WRITTEN_ROLE: writer.role,
        WRITTEN_REQUEST: writer.request_id,
        WRITTEN_ACTION: writer.action,
    }
