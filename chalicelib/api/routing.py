"""Operations: a route plus what it reads and returns.

A view declared with `Operations.operation` receives a `Call` with the parsed body and
query and returns a `Reply`. Parsing, error translation and serialisation happen here once,
and the same metadata feeds the OpenAPI document. Which view serves which route is the
route table in `chalicelib.api.routes`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from chalice import Response
from chalice.app import Request
from pydantic import BaseModel, ValidationError

from chalicelib.api.problems import response_for_exception
from chalicelib.api.request_context import optional_principal, request_id_of
from chalicelib.domain.errors import (
    FieldIssue,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
)
from chalicelib.domain.tenancy import Plan, Principal, TenantId
from chalicelib.services.idempotency import register_invocation
from chalicelib.settings import get_settings

BodyT = TypeVar("BodyT", bound=BaseModel | None)
QueryT = TypeVar("QueryT", bound=BaseModel | None)

JSON_MEDIA_TYPES = ("application/json", "application/merge-patch+json")


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


OPERATIONS: list[Operation] = []


@dataclass(frozen=True)
class Call(Generic[BodyT, QueryT]):
    principal: Principal | None
    body: BodyT
    query: QueryT
    headers: Mapping[str, str]
    request_id: str

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


def _parse_query(request: Request, model: type[BaseModel] | None) -> BaseModel | None:
    params = dict(request.query_params or {})
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
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        malformed = [e for e in exc.errors(include_url=False) if e["type"] == "json_invalid"]
        if malformed:
            raise MalformedRequest(f"the body is not valid JSON: {malformed[0]['msg']}") from exc
        raise InvalidInput(_issues_from(exc, "body")) from exc


def _render(reply: Reply) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": reply.content_type, **reply.headers}
    if isinstance(reply.body, BaseModel):
        return Response(
            body=reply.body.model_dump_json(), status_code=reply.status, headers=headers
        )
    return Response(body=reply.body or "", status_code=reply.status, headers=headers)


Handler = Callable[..., Response]


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
                )
            )

            def handle(request: Request, **path_params: str) -> Response:
                request_id = request_id_of(request)
                register_invocation(request.lambda_context)
                try:
                    call: Call[Any, Any] = Call(
                        principal=optional_principal(request),
                        body=_parse_body(request, body),
                        query=_parse_query(request, query),
                        headers=request.headers,
                        request_id=request_id,
                    )
                    return _render(view(call, **path_params))
                except Exception as error:  # noqa: BLE001 - the edge answers every failure
                    return response_for_exception(error, request_id)

            handle.__name__ = view.__name__
            handle.__doc__ = view.__doc__
            return handle

        return register
