"""The cold start's garbage collection (chalicelib/cold_start.py): young-generation
collections are spaced out until the first invocation has answered, then the start-up objects
are frozen and the usual thresholds return."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from chalicelib.cold_start import COLD_START_THRESHOLD, ColdStartCollection


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[tuple[int, ...]]:
    usual = gc.get_threshold()
    yield usual
    gc.set_threshold(*usual)
    gc.unfreeze()


def test_collections_are_spaced_out_until_the_first_invocation_answers(
    _collector_restored: tuple[int, ...],
) -> None:
    # Given a process that has just imported the app
    collection = ColdStartCollection()
    collection.space_out()
    assert gc.get_threshold() == (COLD_START_THRESHOLD, *_collector_restored[1:])
    gc.unfreeze()

    # When its first invocation answers
    answer = collection.settle_after_first_invocation({"n": 1}, lambda event: event["n"] + 1)

    # Then the answer passes through, start-up objects are frozen and the thresholds are back
    assert answer == 2
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == _collector_restored


def test_only_the_first_invocation_freezes(_collector_restored: tuple[int, ...]) -> None:
    # Given a process whose first invocation has settled the cold start
    collection = ColdStartCollection()
    collection.space_out()
    collection.settle_after_first_invocation(None, lambda event: None)
    gc.unfreeze()

    # When a later invocation answers
    collection.settle_after_first_invocation(None, lambda event: None)

    # Then nothing more is frozen and the thresholds stay the usual ones
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == _collector_restored


def test_a_failed_first_invocation_settles_too(_collector_restored: tuple[int, ...]) -> None:
    # Given a process that has just imported the app
    collection = ColdStartCollection()
    collection.space_out()

    def fail(event: object) -> object:
        raise RuntimeError("first invocation failed")

    # When its first invocation raises
    with pytest.raises(RuntimeError, match="first invocation failed"):
        collection.settle_after_first_invocation(None, fail)

    # Then the error passes through and the cold start is settled all the same
    assert gc.get_threshold() == _collector_restored
    assert gc.get_freeze_count() > 0


def test_a_wrapped_handler_settles_after_its_first_call(
    _collector_restored: tuple[int, ...],
) -> None:
    # Given a handler Chalice runs no middleware around, wrapped
    collection = ColdStartCollection()
    collection.space_out()

    def authorize_request(auth_request: str) -> str:
        return f"allowed {auth_request}"

    handler = collection.settling(authorize_request)

    # When it is called
    answer = handler("key")

    # Then it answers as before, keeps its name (Chalice names the Lambda handler after it)
    # and has settled the cold start
    assert answer == "allowed key"
    assert handler.__name__ == "authorize_request"
    assert gc.get_threshold() == _collector_restored
