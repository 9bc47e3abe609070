"""MERGE_REQUEST_BUDGET_SECONDS: how long a merge request moves items before it answers 202
(issue 16), bounded below the API function's timeout outside the local stage."""

from __future__ import annotations

import pytest

from chalicelib.settings import MAX_MERGE_REQUEST_BUDGET_SECONDS, Settings, SettingsError
from tests.support.settings import DEPLOYED_ENVIRON


def _budget(**environ: str) -> float:
    return Settings.from_environ({**DEPLOYED_ENVIRON, **environ}).merge_request_budget_seconds


def test_the_budget_is_10_seconds_unless_set() -> None:
    assert _budget() == 10


@pytest.mark.parametrize("value", ["0", "0.5", str(MAX_MERGE_REQUEST_BUDGET_SECONDS)])
def test_a_budget_from_0_to_the_ceiling_is_accepted(value: str) -> None:
    assert _budget(MERGE_REQUEST_BUDGET_SECONDS=value) == float(value)


@pytest.mark.parametrize("value", ["-1", "13", "nan", "inf", "ten"])
def test_a_negative_or_too_long_or_unreadable_budget_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="MERGE_REQUEST_BUDGET_SECONDS"):
        _budget(MERGE_REQUEST_BUDGET_SECONDS=value)


def test_the_local_stage_has_no_api_timeout_to_stay_under() -> None:
    # Given the local stage (`chalice local`, the test client: no function timeout)
    local = {"STAGE": "local", "MERGE_REQUEST_BUDGET_SECONDS": "600"}

    # Then a budget past the deployed ceiling is accepted there, and only there
    assert _budget(**local) == 600
    with pytest.raises(SettingsError, match="MERGE_REQUEST_BUDGET_SECONDS"):
        _budget(**{**local, "STAGE": "prod"})
