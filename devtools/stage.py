"""A Chalice stage's environment, read from .chalice/config.json (the one source)."""

from __future__ import annotations

import json

from devtools.dynamodb_local import ROOT


def stage_environment(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    if stage not in config["stages"]:
        raise KeyError(f"no stage {stage!r} in .chalice/config.json")
    environment = dict(config.get("environment_variables", {}))
    environment.update(config["stages"][stage].get("environment_variables", {}))
    return environment
