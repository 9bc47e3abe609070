"""Numbers DynamoDB can store: finite, at most 38 significant digits (leading and trailing
zeros do not count), and zero or of magnitude between 1E-130 and
9.9999999999999999999999999999999999999E+125. Anything else is refused before it is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from chalicelib.domain.errors import FieldIssue

MAX_SIGNIFICANT_DIGITS = 38
SMALLEST_MAGNITUDE = Decimal("1E-130")
LARGEST_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")
NOT_FINITE = "must be a finite number"
TOO_PRECISE = f"may have at most {MAX_SIGNIFICANT_DIGITS} significant digits"
OUT_OF_RANGE = "must be 0 or between 1E-130 and 9.99E+125 in magnitude"


def _as_decimal(value: int | float | Decimal) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def number_problem(value: int | float | Decimal) -> str | None:
    """Why DynamoDB cannot store `value`, or None when it can. Never quotes the value."""
    if isinstance(value, bool):
        return None
    number = _as_decimal(value)
    if not number.is_finite():
        return NOT_FINITE
    if number.is_zero():
        return None
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")
    if len(digits) > MAX_SIGNIFICANT_DIGITS:
        return TOO_PRECISE
    if not SMALLEST_MAGNITUDE <= number.copy_abs() <= LARGEST_MAGNITUDE:
        return OUT_OF_RANGE
    return None


def number_issues(document: Any, path: str = "") -> list[FieldIssue]:
    """Every number in a JSON document (objects, arrays, scalars) that DynamoDB cannot
    store, named by its dotted path (`attributes.score`, `items.0.amount`)."""
    if isinstance(document, Mapping):
        found: list[FieldIssue] = []
        for key, inner in document.items():
            found += number_issues(inner, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(document, Sequence) and not isinstance(document, str | bytes):
        found = []
        for index, inner in enumerate(document):
            found += number_issues(inner, f"{path}.{index}" if path else str(index))
        return found
    if isinstance(document, int | float | Decimal):
        problem = number_problem(document)
        if problem is not None:
            return [FieldIssue(path or "body", problem, "invalid_number")]
    return []
