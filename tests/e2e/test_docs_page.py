"""The API reference page, as a person sees it: rendered by headless Chromium with every
host but this machine unreachable, so a page that needed the internet would stay blank."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

from tests.e2e.conftest import LocalStack

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--virtual-time-budget=15000",
]


def _rendered(url: str) -> str:
    chromium = shutil.which("chromium")
    assert chromium, "Chromium is installed by `make deps`"
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return result.stdout


def test_the_docs_page_renders_every_operation_without_the_internet(stack: LocalStack) -> None:
    dom = _rendered(f"{stack.base_url}/docs")

    assert "Customer operations API" in dom
    assert "OAS 3.1" in dom
    for summary in ("Create a customer", "List or look up customers", "Create a tenant"):
        assert summary in dom, summary
    assert "Failed to load API definition" not in dom
