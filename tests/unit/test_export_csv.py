"""CSV exports (issue 16): RFC 4180 text that reads back cell for cell, with formula
triggers defused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.customers import Address, Consent, Customer
from chalicelib.domain.exports import (
    CUSTOMER_COLUMNS,
    FORMULA_TRIGGERS,
    customer_row,
    customers_csv,
    safe_cell,
    to_csv,
)

_cells = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), strict=True))


@given(rows=st.lists(st.lists(_cells, min_size=3, max_size=3), max_size=8))
def test_any_cells_read_back_unchanged_after_the_header(rows: list[list[str]]) -> None:
    # When rows of arbitrary text are written
    text = to_csv(["a", "b", "c"], rows)

    # Then a strict RFC 4180 reader gets the header and the same cells back
    assert _read(text) == [["a", "b", "c"], *rows]
    assert text.endswith("\r\n")


@given(value=_cells)
def test_no_safe_cell_starts_with_a_formula_trigger(value: str) -> None:
    # When a cell is made safe
    safe = safe_cell(value)

    # Then it cannot start a formula, and only a trigger changes it (by one leading quote)
    assert not safe.startswith(FORMULA_TRIGGERS)
    if value.startswith(FORMULA_TRIGGERS):
        assert safe == f"'{value}"
    else:
        assert safe == value


def _customer(**fields: object) -> Customer:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    defaults: dict[str, object] = {
        "id": "cus_1",
        "created_at": moment,
        "updated_at": moment,
        "version": 1,
    }
    return Customer(**{**defaults, **fields})  # type: ignore[arg-type]


def test_a_customer_row_follows_the_documented_columns() -> None:
    # Given a customer with a multi-line address and quotes in the name
    customer = _customer(
        name='Ann "Nancy" Lee',
        email="ann@example.com",
        phone="+4915112345678",
        birthday=date(1990, 5, 17),
        address=Address(line1="Main St 1\nBack house", city="Berlin"),
        tags=frozenset({"vip", "gold"}),
        attributes={"note": "-5 points"},
        consent=Consent(sms_marketing=True),
    )

    # When it is exported
    header, row = _read(customers_csv([customer]))

    # Then the header is the column set and each cell is where the header says
    assert tuple(header) == CUSTOMER_COLUMNS
    cells = dict(zip(header, row, strict=True))
    assert cells["name"] == 'Ann "Nancy" Lee' and cells["phone"] == "'+4915112345678"
    assert cells["address_line1"] == "Main St 1\nBack house" and cells["address_line2"] == ""
    assert cells["tags"] == "gold vip" and cells["birthday"] == "1990-05-17"
    assert cells["attributes"] == '{"note": "-5 points"}'
    assert (cells["email_marketing"], cells["sms_marketing"]) == ("false", "true")
    assert cells["created_at"] == "2026-01-02T03:04:05+00:00"
    assert row == customer_row(customer)
