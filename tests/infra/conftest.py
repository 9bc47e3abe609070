"""The synthesised templates, made once per test run and shared by the xdist workers."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii (the CDK's bridge to Node.js) prints a banner on every start under Node 20, which is
# past its end of support; this machine's Node is 20. See docs/deployment.md.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.stages import STAGES


@dataclass(frozen=True)
class Synthesised:
    directory: Path
    templates: dict[str, dict[str, Any]]  # stack id ("account", "dev", "prod") → template

    def template_files(self) -> list[Path]:
        return sorted(self.directory.glob("*.template.json"))


def _synthesise_once(root: Path) -> Path:
    """Synthesise into `root`/assembly unless another worker of this run already has."""
    assembly = root / "assembly"
    root.mkdir(parents=True, exist_ok=True)
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (assembly / "manifest.json").exists():
            from infra.app import synthesise

            synthesise(assembly)
    return assembly


@pytest.fixture(scope="session")
def synthesised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesised]:
    # Under xdist every worker has its own basetemp inside one directory for the run.
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    directory = _synthesise_once(shared / "infra-synth")
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in directory.glob("*.template.json")
    }
    yield Synthesised(directory, templates)


@pytest.fixture(scope="session")
def stage_templates(synthesised: Synthesised) -> dict[str, dict[str, Any]]:
    """The template of each deployed stage, keyed by stage name."""
    found = {name: synthesised.templates[name] for name in STAGES if name in synthesised.templates}
    assert set(found) == set(STAGES), (
        f"stages missing from the assembly: {set(STAGES) - set(found)}"
    )
    return found


@pytest.fixture(scope="session")
def synthesised_account(synthesised: Synthesised) -> dict[str, Any]:
    return synthesised.templates["account"]
