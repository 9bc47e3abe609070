"""DynamoDB's ValidationException, as the domain error `InvalidValue`.

Request bodies are checked before anything is written (chalicelib.domain.numbers), so this
is the backstop: a value DynamoDB still refuses answers 422 naming the attribute when it
can be told from what was sent (never quoting the value), instead of 503. A refused
transaction writes none of its items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.operand import Value
from pynamodb.expressions.update import Action

from chalicelib.domain.errors import InvalidValue
from chalicelib.domain.numbers import number_problem
from chalicelib.observability import logger

VALIDATION_EXCEPTION = "ValidationException"
VALIDATION_CANCELLATION = "ValidationError"


def refused_as_invalid(error: PynamoDBException) -> bool:
    """DynamoDB refused the request's values (not a condition, conflict or outage)."""
    if error.cause_response_code == VALIDATION_EXCEPTION:
        return True
    if isinstance(error, TransactWriteError):
        reasons = error.cancellation_reasons or []
        return any(r is not None and r.code == VALIDATION_CANCELLATION for r in reasons)
    return False


def _unstorable_path(value: Any, path: str) -> str | None:
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    if kind == "N":
        return path if _unstorable_number(inner) else None
    if kind == "NS":
        return path if any(_unstorable_number(n) for n in inner) else None
    if kind == "M":
        return next(
            (p for k, v in inner.items() if (p := _unstorable_path(v, f"{path}.{k}"))), None
        )
    if kind == "L":
        return next(
            (p for i, v in enumerate(inner) if (p := _unstorable_path(v, f"{path}.{i}"))), None
        )
    return None


def _unstorable_number(text: str) -> bool:
    try:
        return number_problem(Decimal(text)) is not None
    except InvalidOperation:
        return True


def update_images(actions: Iterable[Action]) -> dict[str, Any]:
    """The values an update sets, by attribute path, in DynamoDB's JSON."""
    return {
        str(action.values[0]): action.values[1].values[0]
        for action in actions
        if len(action.values) == 2 and isinstance(action.values[1], Value)
    }


def invalid_value(images: Iterable[Mapping[str, Any]]) -> InvalidValue:
    """The domain error for a refused write of `images` (items or update values, in
    DynamoDB's JSON), naming the first attribute holding a number DynamoDB cannot store."""
    field = next(
        (
            path
            for image in images
            for name, value in image.items()
            if (path := _unstorable_path(value, name))
        ),
        None,
    )
    return InvalidValue(field)


@contextmanager
def refused_values_as_invalid(images: Callable[[], Iterable[Mapping[str, Any]]]) -> Iterator[None]:
    """Around a write: DynamoDB's ValidationException becomes InvalidValue, derived from
    `images()` (what the write sends); every other failure passes unchanged."""
    try:
        yield
    except PynamoDBException as error:
        if refused_as_invalid(error):
            refused = invalid_value(images())
            # Logged (field only, never the value or DynamoDB's message): a refusal no
            # request check foresaw is either a gap in those checks or a bug of ours.
            logger.warning(
                "DynamoDB refused a write's values",
                field=refused.field,
                dynamodb_error=error.cause_response_code,
            )
            raise refused from error
        raise
