"""The one place where errors become RFC 9457 problem+json responses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from chalice import Response

from chalicelib.domain import errors

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:customer-ops:problem:"


@dataclass(frozen=True)
class ProblemKind:
    status: int
    slug: str
    title: str


_KINDS: dict[type[errors.DomainError], ProblemKind] = {
    errors.MalformedRequest: ProblemKind(400, "malformed-request", "Malformed request"),
    errors.NotAuthenticated: ProblemKind(401, "not-authenticated", "Not authenticated"),
    errors.Forbidden: ProblemKind(403, "forbidden", "Forbidden"),
    errors.NotFound: ProblemKind(404, "not-found", "Not found"),
    errors.MergedSourceFrozen: ProblemKind(409, "customer-merged", "Customer merged"),
    errors.MergedAway: ProblemKind(301, "customer-merged", "Customer merged"),
    errors.MergeConflict: ProblemKind(409, "merge-conflict", "Merge not possible"),
    errors.UnmergeRefused: ProblemKind(409, "unmerge-refused", "Unmerge not possible"),
    errors.UniqueConflict: ProblemKind(409, "unique-conflict", "Already in use"),
    errors.ConcurrentModification: ProblemKind(409, "concurrent-modification", "Conflict"),
    errors.IllegalTransition: ProblemKind(409, "illegal-transition", "Transition not allowed"),
    errors.TicketStateConflict: ProblemKind(409, "ticket-state", "Not allowed in this state"),
    errors.AlreadyRated: ProblemKind(409, "already-rated", "Already rated"),
    errors.SurveyAlreadyAnswered: ProblemKind(409, "survey-already-answered", "Already answered"),
    errors.ImportStateConflict: ProblemKind(409, "import-state", "Not allowed in this state"),
    errors.PreconditionFailed: ProblemKind(412, "precondition-failed", "Precondition failed"),
    errors.PayloadTooLarge: ProblemKind(413, "payload-too-large", "Payload too large"),
    errors.PreconditionRequired: ProblemKind(428, "precondition-required", "If-Match required"),
    errors.UnsupportedMediaType: ProblemKind(
        415, "unsupported-media-type", "Unsupported media type"
    ),
    errors.InvalidInput: ProblemKind(422, "validation-error", "Validation failed"),
    errors.InvalidValue: ProblemKind(422, "invalid-value", "Value cannot be stored"),
    errors.InsufficientPoints: ProblemKind(409, "insufficient-points", "Insufficient points"),
    errors.OutOfStock: ProblemKind(409, "out-of-stock", "Out of stock"),
    errors.RedemptionLimitReached: ProblemKind(
        409, "redemption-limit-reached", "Redemption limit reached"
    ),
    errors.RewardUnavailable: ProblemKind(409, "reward-unavailable", "Reward not available"),
    errors.CouponUnusable: ProblemKind(409, "coupon-unusable", "Coupon cannot be redeemed"),
    errors.IdempotencyKeyReused: ProblemKind(
        422, "idempotency-key-reused", "Idempotency key reused"
    ),
    errors.RequestInProgress: ProblemKind(409, "request-in-progress", "Request in progress"),
    errors.QuotaExceeded: ProblemKind(403, "quota-exceeded", "Plan quota exceeded"),
    errors.PurchaseCapExceeded: ProblemKind(
        422, "purchase-cap-exceeded", "Purchase over the app credentials' cap"
    ),
    errors.RateLimited: ProblemKind(429, "rate-limited", "Too many requests"),
    errors.GatewayUnavailable: ProblemKind(503, "gateway-unavailable", "Service unavailable"),
    errors.AuditUnavailable: ProblemKind(503, "audit-unavailable", "Audit trail unavailable"),
    errors.QueueUnavailable: ProblemKind(503, "queue-unavailable", "Service unavailable"),
}


def problem_summary(error_kind: str, detail: str) -> dict[str, Any]:
    """The problem fields for a domain error named by its class (a batch item's failure)."""
    kind = next(
        (k for cls, k in _KINDS.items() if cls.__name__ == error_kind),
        ProblemKind(500, "internal-error", "Internal error"),
    )
    return {
        "type": PROBLEM_TYPE_BASE + kind.slug,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
    }


def problem_response(
    status: int,
    title: str,
    detail: str,
    request_id: str,
    slug: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or HTTPStatus(status).phrase.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": request_id,
    }
    body.update(extensions or {})
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": PROBLEM_CONTENT_TYPE, **dict(headers or {})},
    )


def _extensions(error: errors.DomainError) -> dict[str, Any]:
    if isinstance(error, errors.InvalidInput):
        return {
            "errors": [
                {"field": issue.field, "message": issue.message, "code": issue.code}
                for issue in error.issues
            ]
        }
    if isinstance(error, errors.InvalidValue) and error.field is not None:
        message = "a value the data store cannot keep"
        return {"errors": [{"field": error.field, "message": message, "code": "invalid_value"}]}
    if isinstance(error, errors.UniqueConflict):
        return {"field": error.field_name, "existing_id": error.existing_id}
    if isinstance(error, errors.QuotaExceeded):
        return {"quota": error.quota}
    if isinstance(error, errors.PurchaseCapExceeded):
        return {"cap": error.cap, "limit": str(error.limit)}
    if isinstance(error, errors.RewardUnavailable | errors.CouponUnusable):
        return {"reason": error.reason}
    if isinstance(error, errors.MergedAway):
        return {"merged_into": error.merged_into, "merge_id": error.merge_id}
    if isinstance(error, errors.MergeConflict) and error.merge_id is not None:
        return {"merge_id": error.merge_id}
    if isinstance(error, errors.IllegalTransition):
        return {"status_now": error.from_status, "allowed_transitions": error.allowed}
    return {}


def domain_error_response(error: errors.DomainError, request_id: str) -> Response:
    kind = next(k for cls, k in _KINDS.items() if isinstance(error, cls))
    headers = {"WWW-Authenticate": "Bearer"} if kind.status == 401 else None
    if isinstance(error, errors.RateLimited):
        headers = {"Retry-After": str(error.retry_after_seconds)}
    if isinstance(
        error, errors.GatewayUnavailable | errors.AuditUnavailable | errors.QueueUnavailable
    ):
        headers = {"Retry-After": "1"}
    if type(error) is errors.MergedAway:
        headers = {"Location": f"/v1/customers/{error.merged_into}"}
    return problem_response(
        kind.status, kind.title, error.detail, request_id, kind.slug, _extensions(error), headers
    )


def unavailable_response(request_id: str) -> Response:
    return problem_response(
        503,
        "Service unavailable",
        "the data store did not answer in time; retry shortly",
        request_id,
        "storage-unavailable",
        headers={"Retry-After": "1"},
    )


def internal_error_response(request_id: str) -> Response:
    return problem_response(
        500,
        "Internal error",
        "the request failed unexpectedly; it has been logged under this request id",
        request_id,
        "internal-error",
    )


def response_for_exception(error: Exception, request_id: str) -> Response:
    """Every exception that reaches the edge ends as a problem response, never a bare 500."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    from chalicelib.observability import logger

    if isinstance(error, errors.DomainError):
        return domain_error_response(error, request_id)
    if isinstance(error, PynamoDBException | BotoCoreError | ClientError):
        logger.exception("data store call failed")
        return unavailable_response(request_id)
    logger.exception("unhandled error")
    return internal_error_response(request_id)


def problem_from_chalice_error(response: Response, request_id: str) -> Response:
    """Chalice answers some errors itself ({"Code", "Message"}); give them our shape."""
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or "Code" not in body:
        return response
    status = response.status_code
    extra = {k: str(v) for k, v in response.headers.items() if k.lower() == "allow"}
    return problem_response(
        status, HTTPStatus(status).phrase, str(body.get("Message", "")), request_id, headers=extra
    )
