"""What `make run` and `make test` set up on a fresh machine: `run` only what it runs."""

from __future__ import annotations

import os
import subprocess

from devtools.dynamodb_local import ROOT

# Each setup step of the Makefile, by a line only its recipe prints.
_SETUP_STEPS = {
    "venv": "touch .venv/.installed",
    "node_modules": "touch node_modules/.installed",
    "java": "default-jre-headless",
    "cdk libraries": "touch .venv/.infra-installed",
    "template linters": "touch .venv-iac/.installed",
    "chromium": "apt-get install -y -qq chromium",
}


def _setup_steps(target: str) -> set[str]:
    """The steps `make <target>` would take on a fresh machine: a dry run (`-n`, nothing is
    executed) with every target out of date (`-B`)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {step for step, line in _SETUP_STEPS.items() if line in printed}


def test_make_run_sets_up_only_the_venv_dynamodb_local_and_java() -> None:
    assert _setup_steps("run") == {"venv", "node_modules", "java"}


def test_make_test_still_sets_up_everything_the_suite_uses() -> None:
    assert _setup_steps("test") == set(_SETUP_STEPS)
