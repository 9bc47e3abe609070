"""Numbers DynamoDB can store, and the request models and rules that refuse the others."""

from __future__ import annotations

import types
from decimal import Decimal
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel, RootModel

from chalicelib.api.routes import load_all_views
from chalicelib.api.routing import OPERATIONS
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.numbers import NOT_FINITE, OUT_OF_RANGE, TOO_PRECISE, number_issues
from chalicelib.domain.numbers import number_problem as problem
from chalicelib.domain.segments import parse_rule

LARGEST = Decimal("9.9999999999999999999999999999999999999E+125")


@pytest.mark.parametrize(
    "value",
    [
        0,
        -0.0,
        1,
        -12.5,
        Decimal("1E-130"),
        LARGEST,
        LARGEST.copy_negate(),
        10**40,
        Decimal("1.5E+100"),
        True,
    ],
)
def test_numbers_dynamodb_stores_pass(value: Any) -> None:
    assert problem(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), NOT_FINITE),
        (float("-inf"), NOT_FINITE),
        (Decimal("Infinity"), NOT_FINITE),
        (1e200, OUT_OF_RANGE),
        (1e-200, OUT_OF_RANGE),
        (Decimal("1E+126"), OUT_OF_RANGE),
        (Decimal("-1E-131"), OUT_OF_RANGE),
        (1234567890123456789012345678901234567890, TOO_PRECISE),
        (Decimal("1.234567890123456789012345678901234567891"), TOO_PRECISE),
    ],
)
def test_numbers_dynamodb_refuses_are_named(value: Any, expected: str) -> None:
    assert problem(value) == expected


def test_issues_name_each_unstorable_number_by_its_path_without_its_value() -> None:
    # Given a document with unstorable numbers at several depths
    document = {"a": 1, "rule": {"all": [{"value": Decimal("NaN")}]}, "x": [1, 1e300], "s": "1e300"}
    # When it is checked
    issues = number_issues(document)
    # Then each is named by path, and no message quotes the value
    assert [(i.field, i.code) for i in issues] == [
        ("rule.all.0.value", "invalid_number"),
        ("x.1", "invalid_number"),
    ]
    assert all("300" not in i.message and "NaN" not in i.message for i in issues)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e200, 10**40 + 1])
def test_a_rule_holding_an_unstorable_number_does_not_parse(value: Any) -> None:
    # Given a rule whose second condition lists an unstorable number
    healthy = {"field": "name", "op": "eq", "value": "Ann"}
    poisoned = {"field": "attributes.score", "op": "in", "value": [1, value]}
    rule: dict[str, Any] = {"any": [healthy, poisoned]}
    # When it is parsed, Then it is refused naming that condition's value
    with pytest.raises(InvalidInput) as refused:
        parse_rule(rule)

    assert [issue.field for issue in refused.value.issues] == ["rule.any.1.value"]


def _models_in(annotation: Any) -> set[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    found: set[type[BaseModel]] = set()
    if get_origin(annotation) is not None or isinstance(annotation, types.UnionType):
        for argument in get_args(annotation):
            found |= _models_in(argument)
    return found


def _reachable(model: type[BaseModel]) -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    pending = [model]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for info in current.model_fields.values():
            pending += _models_in(info.annotation)
    return seen


def test_every_request_model_refuses_non_finite_numbers() -> None:
    # Given every model a route reads a body or a query string into, and the models inside
    load_all_views()
    models: set[type[BaseModel]] = set()
    for operation in OPERATIONS:
        for declared in (operation.body, operation.query):
            if declared is not None:
                models |= _reachable(declared)
    # Then each (but the root wrappers, which hold no number) has allow_inf_nan off
    assert len(models) > 20
    lenient = [
        m.__name__
        for m in models
        if not issubclass(m, RootModel) and m.model_config.get("allow_inf_nan") is not False
    ]
    assert lenient == []


def test_a_float_attribute_refuses_nan_through_the_shared_config() -> None:
    from chalicelib.schemas.customers import CustomerCreate

    # Given a body validated from Python (no JSON text to scan), When it holds NaN,
    # Then the model itself refuses it
    with pytest.raises(ValueError, match="finite"):
        CustomerCreate.model_validate({"name": "Ann", "attributes": {"score": float("nan")}})
