"""Reading import files in resumable chunks and mapping rows to customer bodies: quoted
fields, line endings, encodings, missing columns, oversized rows and normalisation."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.imports import (
    MAX_ROW_BYTES,
    ImportFormat,
    ImportKind,
    ImportSpec,
    MappedRow,
    RowError,
    UpsertKey,
    map_customer_row,
    read_chunk,
    read_header,
)


def spec(**overrides: Any) -> ImportSpec:
    values: dict[str, Any] = {
        "kind": ImportKind.CUSTOMERS,
        "format": ImportFormat.CSV,
        "upsert_key": UpsertKey.EXTERNAL_ID,
        "mapping": {"id": "external_id", "name": "name"},
    }
    values.update(overrides)
    return ImportSpec(**values)


def rows_of(data: bytes, header: list[str] | None, **overrides: Any) -> list[tuple[int, Any]]:
    chunk = read_chunk(data, 0, 2, len(data), spec(**overrides), header)
    assert chunk.at_end
    return [(row.line, row.error.message if row.error else row.values) for row in chunk.rows]


def test_quoted_fields_keep_delimiters_quotes_and_newlines() -> None:
    # Given quoted CSV fields with a comma, a doubled quote and a newline
    data = b'1,"Lee, Ann"\n2,"Say ""hi"""\n3,"two\nlines"\n4,Dan\n'

    # When read
    rows = rows_of(data, ["id", "name"])

    # Then each record is whole and numbered by its first line
    assert rows == [
        (2, {"id": "1", "name": "Lee, Ann"}),
        (3, {"id": "2", "name": 'Say "hi"'}),
        (4, {"id": "3", "name": "two\nlines"}),
        (6, {"id": "4", "name": "Dan"}),
    ]


def test_crlf_a_missing_last_newline_and_blank_lines() -> None:
    data = b"1,Ann\r\n\r\n2,Bob"

    assert rows_of(data, ["id", "name"]) == [
        (2, {"id": "1", "name": "Ann"}),
        (4, {"id": "2", "name": "Bob"}),
    ]


def test_a_row_with_the_wrong_number_of_columns_is_an_error() -> None:
    assert rows_of(b"1,Ann,extra\n2\n", ["id", "name"]) == [
        (2, "has 3 columns, the header 2"),
        (3, "has 1 columns, the header 2"),
    ]


def test_bytes_that_are_not_utf8_fail_their_row_only() -> None:
    rows = rows_of("1,Jos\xe9\n".encode("latin-1") + b"2,Bob\n", ["id", "name"])

    assert rows[0][0] == 2 and "not UTF-8" in rows[0][1]
    assert rows[1] == (3, {"id": "2", "name": "Bob"})


def test_an_oversized_row_is_reported_and_skipped() -> None:
    # Given a row longer than the limit between two good ones
    data = b"1,Ann\n2," + b"x" * (MAX_ROW_BYTES + 10) + b"\n3,Cleo\n"

    # When read
    rows = rows_of(data, ["id", "name"])

    # Then it is an error and the next row is read
    assert rows[0] == (2, {"id": "1", "name": "Ann"})
    assert rows[1] == (3, f"the row is longer than {MAX_ROW_BYTES} bytes")
    assert rows[2] == (4, {"id": "3", "name": "Cleo"})


def test_a_header_row_with_a_byte_order_mark() -> None:
    assert read_header(b"\xef\xbb\xbfid, name\n1,Ann\n", spec()) == ["id", "name"]


def test_a_chunk_ends_at_a_record_boundary_and_the_next_resumes_there() -> None:
    # Given three records, one of them spanning two lines, read two at a time
    data = b'1,Ann\n2,"B\nob"\n3,Cleo\n'
    first = read_chunk(data, 0, 1, len(data), spec(), ["id", "name"], max_rows=2)

    # When the next chunk is read from the first one's end
    rest = read_chunk(
        data[first.end_offset :], first.end_offset, first.next_line, len(data), spec(), None
    )

    # Then the rows and lines continue where the first stopped
    assert [row.line for row in first.rows] == [1, 2]
    assert not first.at_end
    assert first.end_offset == data.index(b"3,Cleo")
    assert [(row.line, row.values) for row in rest.rows] == [(4, {"1": "3", "2": "Cleo"})]
    assert rest.at_end


def test_a_record_cut_by_the_read_window_is_left_for_the_next_chunk() -> None:
    # Given a window that ends inside the second record
    data = b"1,Ann\n2,Bob\n"
    window = data[:9]

    # When read as part of the longer file
    chunk = read_chunk(window, 0, 1, len(data), spec(), ["id", "name"])

    # Then only the whole record is taken
    assert [row.line for row in chunk.rows] == [1]
    assert chunk.end_offset == 6 and not chunk.at_end


def test_json_lines_rows_are_objects() -> None:
    data = b'{"id": "1"}\n[1]\n{bad\n{"score": NaN}\n'

    rows = rows_of(data, None, format=ImportFormat.JSONL)

    assert rows == [
        (2, {"id": "1"}),
        (3, "not a JSON object"),
        (4, "not a JSON object"),
        (5, "not a JSON object"),
    ]


def mapping_spec() -> ImportSpec:
    return spec(
        mapping={
            "id": "external_id",
            "name": "name",
            "mail": "email",
            "tel": "phone",
            "born": "birthday",
            "tags": "tags",
            "news": "consent.email_marketing",
            "city": "address.city",
            "store": "attributes.store",
        },
        date_format="%d.%m.%Y",
    )


def test_a_row_is_normalised_into_a_customer_body() -> None:
    # Given untidy values
    values = {
        "id": " c-1 ",
        "name": "  Ann Lee ",
        "mail": "Ann@Example.COM",
        "tel": "030 1234567",
        "born": "01.04.1990",
        "tags": "vip; gold",
        "news": "Yes",
        "city": " Berlin ",
        "store": "S1",
    }

    # When mapped with Germany as the default country
    mapped = map_customer_row(values, mapping_spec(), "DE")

    # Then every value is in its normal form
    assert mapped == MappedRow(
        {
            "external_id": "c-1",
            "name": "Ann Lee",
            "email": "ann@example.com",
            "phone": "+49301234567",
            "birthday": "1990-04-01",
            "tags": ["vip", "gold"],
            "consent": {"email_marketing": True},
            "address": {"city": "Berlin"},
            "attributes": {"store": "S1"},
        },
        frozenset(
            {
                "external_id",
                "name",
                "email",
                "phone",
                "birthday",
                "tags",
                "consent",
                "address",
                "attributes",
            }
        ),
    )


def test_empty_and_missing_cells_neither_set_nor_clear() -> None:
    mapped = map_customer_row({"id": "c-1", "name": "  ", "mail": None}, mapping_spec(), None)

    assert isinstance(mapped, MappedRow)
    assert mapped.body == {"external_id": "c-1"}


@pytest.mark.parametrize(
    ("values", "country", "field"),
    [
        ({"tel": "030 1234567"}, None, "phone"),
        ({"tel": "+49 1"}, "DE", "phone"),
        ({"born": "1990-04-01"}, None, "birthday"),
        ({"news": "maybe"}, None, "consent.email_marketing"),
    ],
)
def test_values_that_cannot_be_normalised_name_their_field(
    values: dict[str, object], country: str | None, field: str
) -> None:
    mapped = map_customer_row({"id": "c-1", **values}, mapping_spec(), country)

    assert isinstance(mapped, RowError)
    assert mapped.field == field
