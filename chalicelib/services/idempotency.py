"""Safe retries: a request repeated with the same Idempotency-Key answers the first result.

Powertools' `idempotent_function` wraps the work; its payload is an `IdempotentRequest`
whose key is the tenant, the operation and the caller's key (so two tenants never
collide), and whose fingerprint makes a key reused for a different request fail.

What the Idempotency table keeps of a result is a `Receipt`: ids, counts and amounts,
never a personal value. A repeat rebuilds its answer from the items the receipt names,
so the table never holds a copy of a customer's data that an erasure would have to find
(its records are keyed by a hash of the client's key, so they could not be found).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from chalicelib.dal import keys
from chalicelib.dal.idempotency import persistence_store
from chalicelib.domain.errors import IdempotencyKeyReused, RequestInProgress
from chalicelib.domain.tenancy import TenantId

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)
RECORD_SECONDS = 24 * 60 * 60
_invocation: list[Any] = [None]


def register_invocation(lambda_context: Any) -> None:
    """Remember the running invocation's Lambda context, so that an in-progress record
    expires with the invocation (a retry after a timeout is not blocked for a day)."""
    _invocation[0] = lambda_context


class IdempotentRequest(BaseModel):
    tenant: str
    operation: str
    key: str
    fingerprint: str


def idempotent_request(
    tenant: TenantId, operation: str, key: str | None, *inputs: Any
) -> IdempotentRequest | None:
    """The payload for a request carrying `key` (None without one)."""
    if key is None:
        return None
    canonical = json.dumps(inputs, sort_keys=True, default=str, separators=(",", ":"))
    return IdempotentRequest(
        tenant=tenant,
        operation=keys.idempotency_scope(tenant, operation),
        key=key,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
    )


@dataclass(frozen=True)
class Receipt(Generic[R, S]):
    """How a result of type R is stored (`of`, as an S holding no personal value) and
    rebuilt for a repeat (`replay`, reading the items the S names)."""

    stored_type: type[S]
    of: Callable[[R], S]
    replay: Callable[[S], R]


def _perform(request: IdempotentRequest, work: Callable[[], BaseModel]) -> BaseModel:
    return work()


@lru_cache(maxsize=16)
def _runner(store_id: int, result_type: type[BaseModel]) -> tuple[Callable[..., BaseModel], Any]:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import (
        PydanticSerializer,
    )

    config = IdempotencyConfig(
        event_key_jmespath="[tenant, operation, key]",
        payload_validation_jmespath="fingerprint",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=RECORD_SECONDS,
    )
    runner: Callable[..., BaseModel] = idempotent_function(
        _perform,
        data_keyword_argument="request",
        persistence_store=persistence_store(),
        config=config,
        output_serializer=PydanticSerializer(result_type),
    )
    return runner, config


def run_once(request: IdempotentRequest | None, receipt: Receipt[R, S], work: Callable[[], R]) -> R:
    """Run `work` once per idempotent request; a repeat answers the result rebuilt from
    the stored receipt."""
    if request is None:
        return work()
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    runner, config = _runner(id(persistence_store()), receipt.stored_type)
    if _invocation[0] is not None:
        config.register_lambda_context(_invocation[0])
    done: list[R] = []

    def perform() -> BaseModel:
        result = work()
        done.append(result)
        return receipt.of(result)

    try:
        stored = runner(request=request, work=perform)
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request"
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise RequestInProgress(
            "a request with this Idempotency-Key is still in progress; retry shortly"
        ) from exc
    if done:
        return done[0]
    if not isinstance(stored, receipt.stored_type):
        stored = receipt.stored_type.model_validate(stored)
    return receipt.replay(stored)
