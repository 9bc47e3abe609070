"""Typed domain errors. The API edge turns them into problem+json responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


class DomainError(Exception):
    """Base of every error a caller can cause."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class FieldIssue:
    field: str
    message: str
    code: str = "invalid"


class InvalidInput(DomainError):
    """The request is well-formed but one or more fields are not acceptable."""

    def __init__(self, issues: list[FieldIssue], detail: str | None = None) -> None:
        names = ", ".join(issue.field for issue in issues)
        super().__init__(detail or f"invalid fields: {names}")
        self.issues = issues


class MalformedRequest(DomainError):
    """The request cannot be parsed at all (bad JSON, a tampered cursor, ...)."""


class UnsupportedMediaType(DomainError):
    pass


class PayloadTooLarge(DomainError):
    pass


class NotAuthenticated(DomainError):
    pass


class Forbidden(DomainError):
    pass


class NotFound(DomainError):
    pass


@dataclass
class UniqueConflict(DomainError):
    """A unique field (email, phone, external_id) already belongs to another record."""

    field_name: str
    existing_id: str | None
    detail: str = field(init=False)

    def __post_init__(self) -> None:
        self.detail = f"{self.field_name} is already used by another customer"
        Exception.__init__(self, self.detail)


class PreconditionFailed(DomainError):
    """An If-Match precondition does not hold: the record changed since it was read."""


class PreconditionRequired(DomainError):
    """The change needs an If-Match header naming the version it replaces."""


class ConcurrentModification(DomainError):
    """The record kept changing under us; the caller should retry."""


class InsufficientPoints(DomainError):
    """A redemption or deduction asks for more points than are available."""


class OutOfStock(DomainError):
    """The reward's stock is spent."""


class RedemptionLimitReached(DomainError):
    """The customer has redeemed the reward as often as its per-customer limit allows."""


class RewardUnavailable(DomainError):
    """The reward cannot be redeemed now (inactive, outside its validity, or the
    customer's tier is below the one it requires); `reason` says which."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class CouponUnusable(DomainError):
    """The coupon cannot be redeemed: `reason` is `expired` or `redeemed` (for another
    order)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key was sent again with a different request."""


class RequestInProgress(DomainError):
    """The first request with this Idempotency-Key has not finished yet."""


class QuotaExceeded(DomainError):
    """The tenant's plan does not allow more of something (customers, API keys, ...)."""

    def __init__(self, quota: str, detail: str) -> None:
        super().__init__(detail)
        self.quota = quota


class PurchaseCapExceeded(DomainError):
    """A purchase recorded with app credentials is over one of the tenant's caps."""

    def __init__(self, cap: str, limit: Decimal, detail: str) -> None:
        super().__init__(detail)
        self.cap = cap
        self.limit = limit


class GatewayUnavailable(DomainError):
    """API Gateway did not complete a change the request depends on (a tenant's API key or
    usage plan); nothing was recorded, and the same request can be sent again."""


class RateLimited(DomainError):
    def __init__(self, retry_after_seconds: int, detail: str) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


def _article(word: str) -> str:
    """`an` before a vowel (`an open ticket`), else `a`."""
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"


class IllegalTransition(DomainError):
    """A ticket cannot move from its status to the one asked for; `allowed` lists where it
    can go (for this caller, now)."""

    def __init__(
        self, from_status: str, to_status: str, allowed: list[str], detail: str | None = None
    ) -> None:
        super().__init__(
            detail or f"{_article(from_status)} {from_status} ticket cannot move to {to_status}",
        )
        self.from_status = from_status
        self.to_status = to_status
        self.allowed = allowed


class TicketStateConflict(DomainError):
    """The ticket's status does not allow the change (read-only, or not yet resolved)."""


class AlreadyRated(DomainError):
    """A ticket takes one satisfaction rating."""


class SurveyAlreadyAnswered(DomainError):
    """A customer answers a campaign's survey once."""


class QueueUnavailable(DomainError):
    """A message the rest of the work depends on could not be queued. What the request did
    is stored, and the same request sent again resumes it."""


class AuditUnavailable(DomainError):
    """The audit entry of a request could not be written: the request must not answer."""


class InvalidValue(DomainError):
    """The data store refused a value (a number out of its range, say). `field` names the
    attribute when it could be told; the value itself is never repeated."""

    def __init__(self, field: str | None) -> None:
        where = f"{field} holds" if field else "the request holds"
        super().__init__(f"{where} a value the data store cannot keep; nothing was written")
        self.field = field


class ImportStateConflict(DomainError):
    """The import's status does not allow the step (a file sent twice, or to a started
    import)."""


# Customer merge (issue 16).


class MergeConflict(DomainError):
    """The merge cannot start or go on: a profile is merged already or is being merged."""

    def __init__(self, detail: str, merge_id: str | None = None) -> None:
        super().__init__(detail)
        self.merge_id = merge_id


class MergedAway(DomainError):
    """A read of a customer merged into another one: answered 301 to the survivor."""

    def __init__(self, customer_id: str, merged_into: str, merge_id: str) -> None:
        super().__init__(f"customer {customer_id} was merged into {merged_into}")
        self.customer_id = customer_id
        self.merged_into = merged_into
        self.merge_id = merge_id


class MergedSourceFrozen(MergedAway):
    """A write to a customer merged (or being merged) into another one: refused (409)
    naming the merge, so no write lands on a profile whose history moved away."""

    def __init__(self, customer_id: str, merged_into: str, merge_id: str) -> None:
        super().__init__(customer_id, merged_into, merge_id)
        self.detail = (
            f"customer {customer_id} was merged into {merged_into} (merge {merge_id}); "
            f"write to {merged_into} instead"
        )
        self.args = (self.detail,)


class UnmergeRefused(DomainError):
    """The unmerge cannot be done (window passed, or the survivor spent the points)."""
