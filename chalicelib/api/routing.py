"""Operations: a route plus what it reads and returns.

A view declared with `Operations.operation` receives a `Call` with the parsed body and
query and returns a `Reply`. Parsing, error translation and serialisation happen here once,
and the same metadata feeds the OpenAPI document. Which view serves which route is the
route table in `chalicelib.api.routes`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from chalice import Response
from chalice.app import Request
from pydantic import BaseModel, ValidationError

from chalicelib.api.problems import response_for_exception
from chalicelib.api.request_context import optional_principal, request_id_of
from chalicelib.dal.attribution import rename_current_action, writing_as
from chalicelib.domain.audit import Writer, ids_from_path, returned_ids
from chalicelib.domain.errors import (
    AuditUnavailable,
    FieldIssue,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
)
from chalicelib.domain.ids import TENANT_ID_PATTERN
from chalicelib.domain.numbers import number_issues
from chalicelib.domain.tenancy import Plan, Principal, TenantId
from chalicelib.observability import logger
from chalicelib.services.idempotency import register_invocation
from chalicelib.settings import get_settings

BodyT = TypeVar("BodyT", bound=BaseModel | None)
QueryT = TypeVar("QueryT", bound=BaseModel | None)

JSON_MEDIA_TYPES = ("application/json", "application/merge-patch+json")
# Operations that touch no tenant's data: not audited.
UNAUDITED_TAGS = frozenset({"docs"})


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    description: str = ""
    extra_responses: tuple[int, ...] = ()
    media_type: str = "application/json"
    file_media_types: tuple[str, ...] = ()
    """A view that takes a file (not a JSON body) reads `Call.raw_body`; these are the
    media types the OpenAPI document offers for it."""


OPERATIONS: list[Operation] = []


@dataclass
class AuditNote:
    """What a view tells the audit trail beyond its declaration: another action name,
    customers its response names that the body does not carry as JSON (a CSV export),
    and detail for the entry."""

    action: str | None = None
    customer_ids: list[str] = field(default_factory=list)
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call(Generic[BodyT, QueryT]):
    principal: Principal | None
    body: BodyT
    query: QueryT
    headers: Mapping[str, str]
    request_id: str
    audit_note: AuditNote = field(default_factory=AuditNote)
    raw_body: bytes = b""
    """The body as sent, for a view that takes a file."""

    def audit_as(self, action: str) -> None:
        """Record this call (and the items it writes) under `action` rather than the
        operation's name: an erasure arrives as a DELETE but is audited as one."""
        self.audit_note.action = action
        rename_current_action(action)

    def audit_detail(self, customer_ids: Sequence[str], **detail: str) -> None:
        """Name in this call's audit entry the customers it read (they count towards the
        bulk-read alert) and `detail` (say, an export's row count)."""
        self.audit_note.customer_ids.extend(customer_ids)
        self.audit_note.detail.update(detail)

    @property
    def tenant(self) -> TenantId:
        if self.principal is None or self.principal.tenant is None:
            raise Forbidden("this route needs a tenant's API key")
        return self.principal.tenant

    @property
    def actor(self) -> str:
        """Who the ledger names as the cause of a change: the calling key's id."""
        if self.principal is None:
            raise Forbidden("this route needs an API key")
        return self.principal.key_id

    def idempotency_key(self) -> str | None:
        """The Idempotency-Key header: a repeat of the request answers the first result."""
        key = self.headers.get("idempotency-key")
        if key is None:
            return None
        key = key.strip()
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise InvalidInput(
                [FieldIssue("Idempotency-Key", "1 to 255 printable characters", "header")]
            )
        return key

    @property
    def plan(self) -> Plan:
        if self.principal is None or self.principal.plan is None:
            raise Forbidden("this route needs a tenant's API key")
        return self.principal.plan

    def if_match_version(self) -> int | None:
        """The version an If-Match header names, None when absent or `*`."""
        header = self.headers.get("if-match")
        if header is None or header.strip() == "*":
            return None
        return parse_etag(header)


@dataclass
class Reply:
    body: BaseModel | str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def etag_for(version: int) -> str:
    return f'"{version}"'


def parse_etag(header: str) -> int:
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailed("If-Match does not name a version of this resource")
    return int(value)


def _issues_from(error: ValidationError, location: str) -> list[FieldIssue]:
    issues = []
    for detail in error.errors(include_url=False):
        path = ".".join(str(part) for part in detail["loc"]) or location
        message = detail["msg"].removeprefix("Value error, ")
        issues.append(FieldIssue(field=path, message=message, code=detail["type"]))
    return issues


def _single_values(query: Any) -> dict[str, str]:
    """Each parameter's one value. A parameter given twice is refused by name rather than
    read as its last value: `?status=open&status=closed` would otherwise answer for
    `closed` alone, silently."""
    if not query:
        return {}
    repeated = [name for name in query if len(query.getlist(name)) > 1]
    if repeated:
        raise InvalidInput(
            [
                FieldIssue(name, "given more than once; give each query parameter once", "repeated")
                for name in repeated
            ]
        )
    return {name: query[name] for name in query}


def _parse_query(request: Request, model: type[BaseModel] | None) -> BaseModel | None:
    params = _single_values(request.query_params)
    if model is None:
        if params:
            raise InvalidInput(
                [FieldIssue(name, "unknown query parameter", "extra_forbidden") for name in params]
            )
        return None
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise InvalidInput(_issues_from(exc, "query")) from exc


def _refuse_unstorable_numbers(raw: str | bytes) -> None:
    """Every number of the body, wherever it sits (free-form `attributes` and rule values
    included), must be one DynamoDB can store. Python's JSON reader (and pydantic's) accept
    the non-standard literals NaN, Infinity and -Infinity; read here as Decimal, they are
    refused with the others, by path, before any model sees the body."""
    try:
        document = json.loads(raw, parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal)
        issues = number_issues(document)
    except (ValueError, RecursionError):
        return  # not JSON, or nested too deeply: the model's parser names the problem
    if issues:
        raise InvalidInput(issues)


def _parse_body(request: Request, model: type[BaseModel] | None) -> BaseModel | None:
    if model is None:
        return None
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"send the body as application/json (got {content_type or 'no Content-Type'})"
        )
    raw = request.raw_body or b""
    if len(raw) > get_settings().max_body_bytes:
        raise PayloadTooLarge(f"the body may be at most {get_settings().max_body_bytes} bytes")
    if not raw.strip():
        raise MalformedRequest("the request needs a JSON body")
    _refuse_unstorable_numbers(raw)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        malformed = [e for e in exc.errors(include_url=False) if e["type"] == "json_invalid"]
        if malformed:
            raise MalformedRequest(f"the body is not valid JSON: {malformed[0]['msg']}") from exc
        raise InvalidInput(_issues_from(exc, "body")) from exc


def _file_body(request: Request, media_types: tuple[str, ...]) -> bytes:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in media_types:
        raise UnsupportedMediaType(
            f"send the file as one of {', '.join(media_types)} "
            f"(got {content_type or 'no Content-Type'})"
        )
    raw = request.raw_body or b""
    return raw if isinstance(raw, bytes) else raw.encode()


def _render(reply: Reply) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": reply.content_type, **reply.headers}
    if isinstance(reply.body, BaseModel):
        return Response(
            body=reply.body.model_dump_json(), status_code=reply.status, headers=headers
        )
    return Response(body=reply.body or "", status_code=reply.status, headers=headers)


Handler = Callable[..., Response]


def _writer(principal: Principal | None, request_id: str, action: str) -> Writer | None:
    if principal is None:
        return None
    return Writer(principal.key_id, principal.role.value, request_id, action)


def audited(
    operation: Operation,
    action: str,
    principal: Principal | None,
    request: Request,
    path_params: Mapping[str, str],
    sent: BaseModel | None,
    reply: Reply | None,
    response: Response,
    note: AuditNote | None = None,
) -> Response:
    """Record the request in the audit trail (one PutItem) and answer. A read whose entry
    cannot be written answers 503 instead of the data; a write that happened is still
    answered (its changes reach the trail through the data stream)."""
    if principal is None or operation.tag in UNAUDITED_TAGS or not get_settings().audit_requests:
        return response
    tenant = principal.tenant or path_params.get("tenant_id", "")
    if not TENANT_ID_PATTERN.match(tenant):
        return response
    from chalicelib.services.audit import RequestRecord, record_request

    resources, customers = ids_from_path(path_params)
    if reply is not None and 200 <= response.status_code < 300:
        returned_resources, returned_customers = returned_ids(reply.body)
        resources += returned_resources
        customers += returned_customers
        customers += note.customer_ids if note is not None else []
    identity = request.context.get("identity") or {}
    record = RequestRecord(
        tenant=TenantId(tenant),
        plan=principal.plan,
        actor=principal.key_id,
        role=principal.role.value,
        action=action,
        resource_type=operation.tag,
        request_id=request_id_of(request),
        method=request.method,
        status=response.status_code,
        resource_ids=resources,
        customer_ids=customers,
        fields=sorted(sent.model_fields_set) if sent is not None else (),
        source_ip=identity.get("sourceIp"),
        user_agent=request.headers.get("user-agent"),
        detail=dict(note.detail) if note is not None else {},
    )
    try:
        record_request(record)
    except AuditUnavailable as error:
        logger.error("audit entry not written", action=record.action, status=record.status)
        if request.method == "GET" and response.status_code < 400:
            return response_for_exception(error, record.request_id)
    return response


def _merged_instead(
    error: Exception, principal: Principal | None, method: str, path_params: Mapping[str, str]
) -> Exception:
    """A customer route that found no customer: when the customer was merged into another
    one (issue 16), say so instead (301 to the survivor for a read, 409 for a write)."""
    customer_id = path_params.get("customer_id")
    if not isinstance(error, NotFound) or customer_id is None:
        return error
    if principal is None or principal.tenant is None:
        return error
    from chalicelib.services.merge import redirect_if_merged

    writing = method not in ("GET", "HEAD")
    return redirect_if_merged(principal.tenant, customer_id, writing) or error


class Operations:
    """The operations of one API module. `operation` records an operation's metadata and
    answers the handler `chalicelib.api.routes` calls with the request and path values."""

    def __init__(self, import_name: str) -> None:
        self.import_name = import_name

    def operation(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        description: str = "",
        extra_responses: tuple[int, ...] = (),
        media_type: str = "application/json",
        file_media_types: tuple[str, ...] = (),
    ) -> Callable[[Callable[..., Reply]], Handler]:
        def register(view: Callable[..., Reply]) -> Handler:
            OPERATIONS.append(
                Operation(
                    method=method,
                    path=path,
                    operation_id=view.__name__,
                    summary=summary,
                    tag=tag,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    description=description or (view.__doc__ or "").strip(),
                    extra_responses=extra_responses,
                    media_type=media_type,
                    file_media_types=file_media_types,
                )
            )

            operation = OPERATIONS[-1]

            def handle(request: Request, **path_params: str) -> Response:
                request_id = request_id_of(request)
                register_invocation(request.lambda_context)
                principal = optional_principal(request)
                writer = _writer(principal, request_id, operation.operation_id)
                sent: BaseModel | None = None
                reply: Reply | None = None
                note = AuditNote()
                try:
                    with writing_as(writer) if writer else nullcontext():
                        call: Call[Any, Any] = Call(
                            principal=principal,
                            body=_parse_body(request, body),
                            query=_parse_query(request, query),
                            headers=request.headers,
                            request_id=request_id,
                            audit_note=note,
                            raw_body=_file_body(request, file_media_types)
                            if file_media_types
                            else b"",
                        )
                        sent = call.body
                        reply = view(call, **path_params)
                    response = _render(reply)
                except Exception as error:  # noqa: BLE001 - the edge answers every failure
                    error = _merged_instead(error, principal, request.method, path_params)
                    response = response_for_exception(error, request_id)
                action = note.action or operation.operation_id
                return audited(
                    operation, action, principal, request, path_params, sent, reply, response, note
                )

            handle.__name__ = view.__name__
            handle.__doc__ = view.__doc__
            return handle

        return register
