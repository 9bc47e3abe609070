"""Which rows of an import chunk may be written together (issue 16, grouped writes): those
touching no unique value another row of the chunk touches."""

from __future__ import annotations

from chalicelib.domain.imports import independent_rows


def test_rows_sharing_a_value_are_written_alone_and_the_others_together() -> None:
    # Given a chunk where lines 1 and 3 name one email and line 2 frees what line 4 takes
    touched = [
        frozenset({("external_id", "c-1"), ("email", "a@example.com")}),
        frozenset({("external_id", "c-2"), ("email", "old@example.com")}),
        frozenset({("external_id", "c-3"), ("email", "a@example.com")}),
        frozenset({("external_id", "c-4"), ("email", "old@example.com")}),
        frozenset({("external_id", "c-5"), ("phone", "+4930123456")}),
    ]

    # When the chunk is split
    alone = independent_rows(touched)

    # Then only the row that shares nothing is independent
    assert alone == [False, False, False, False, True]


def test_a_key_repeated_in_the_chunk_makes_both_rows_dependent() -> None:
    # Given the same key on two lines, and a row touching nothing
    touched = [
        frozenset({("external_id", "c-1")}),
        frozenset({("external_id", "c-1")}),
        frozenset(),
    ]

    # When the chunk is split / Then the repeated key's rows are not independent
    assert independent_rows(touched) == [False, False, True]
