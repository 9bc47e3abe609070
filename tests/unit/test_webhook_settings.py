"""The local-receivers setting exists for the local stage only."""

from __future__ import annotations

import pytest

from chalicelib.settings import Settings, SettingsError
from tests.support.settings import DEPLOYED_ENVIRON


def test_local_receivers_are_refused_outside_the_local_stage() -> None:
    with pytest.raises(SettingsError, match="WEBHOOK_LOCAL_RECEIVERS"):
        Settings.from_environ(
            {**DEPLOYED_ENVIRON, "STAGE": "prod", "WEBHOOK_LOCAL_RECEIVERS": "true"}
        )


def test_local_receivers_are_allowed_in_the_local_stage_and_off_by_default() -> None:
    local = Settings.from_environ(
        {**DEPLOYED_ENVIRON, "STAGE": "local", "WEBHOOK_LOCAL_RECEIVERS": "true"}
    )
    deployed = Settings.from_environ({**DEPLOYED_ENVIRON, "STAGE": "prod"})
    assert local.webhook_local_receivers and not deployed.webhook_local_receivers
