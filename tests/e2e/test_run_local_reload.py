"""`make run` (the stack without `--no-autoreload`): data changes never restart the API;
a change of the code it watches does."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from devtools.dynamodb_local import ROOT
from tests.e2e.conftest import LocalStack, http_transport, start_stack
from tests.support.api import Answer, Api

T = TypeVar("T")
_STARTED = re.compile(r"API process (\d+) started")
_LOAD_SECONDS = 15
_WRITERS = 4


def _api_pids(stack: LocalStack) -> list[int]:
    return [int(pid) for pid in _STARTED.findall((stack.local_dir / "stack.log").read_text())]


def _data_files(local_dir: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in local_dir.rglob("*") if path.is_file()}


def _write_customers_until(tenant: Api, deadline: float, writer: int) -> list[Answer]:
    answers = []
    number = 0
    while time.monotonic() < deadline:
        number += 1
        created = tenant.post(
            "/v1/customers", {"name": f"Load {writer}-{number}", "tags": ["load"]}
        )
        answers.append(created)
        if created.status == 201:
            customer_id = created.json["id"]
            answers.append(tenant.patch(f"/v1/customers/{customer_id}", {"tags": ["changed"]}))
    return answers


def test_make_run_serves_without_restarts_while_data_changes() -> None:
    # Given the stack as `make run` starts it, its data inside the project (as .local/ is)
    local_dir = Path(tempfile.mkdtemp(prefix="reload-", dir=_project_local_dir()))
    stack = start_stack(local_dir, autoreload=True)
    try:
        tenant = Api(http_transport(stack.base_url), stack.admin_key).create_tenant("Load")
        data_before = _data_files(local_dir)

        # When several writers create and change customers for a while
        deadline = time.monotonic() + _LOAD_SECONDS
        with ThreadPoolExecutor(_WRITERS) as pool:
            batches = list(
                pool.map(lambda n: _write_customers_until(tenant, deadline, n), range(_WRITERS))
            )

        # Then every request succeeded, the data on disk changed, and the API process is
        # the one that started first
        answers = [answer for batch in batches for answer in batch]
        failed = [(a.status, a.text) for a in answers if a.status not in (200, 201)]
        assert len(answers) > _WRITERS * 4 and failed == []
        assert _data_files(local_dir) != data_before
        log = (local_dir / "stack.log").read_text()
        assert len(_api_pids(stack)) == 1, log
        assert "restarting the API" not in log
    finally:
        stack.stop()
        shutil.rmtree(local_dir, ignore_errors=True)


def test_a_change_of_watched_code_restarts_the_api(tmp_path: Path) -> None:
    # Given the stack watching a code folder of its own (WATCH_PATHS)
    code = tmp_path / "code"
    code.mkdir()
    module = code / "module.py"
    module.write_text("VALUE = 1\n")
    (code / "notes.txt").write_text("not code")
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    stack = start_stack(local_dir, autoreload=True, environ={"WATCH_PATHS": str(code)})
    try:
        platform = Api(http_transport(stack.base_url), stack.admin_key)
        tenant = platform.create_tenant("Reloaded")
        customer = tenant.create_customer(name="Before the change")
        (code / "notes.txt").write_text("still not code")
        time.sleep(2.5)
        assert len(_api_pids(stack)) == 1, "a file that is not code restarted the API"

        # When a watched file changes
        module.write_text("VALUE = 2\n")

        # Then a new API process serves, with the data as it was
        pids = _wait_for(lambda: _api_pids(stack) if len(_api_pids(stack)) == 2 else None)
        assert pids[0] != pids[1]
        again = _wait_for(lambda: _answered(tenant, f"/v1/customers/{customer['id']}"))
        assert again.json["name"] == "Before the change"
        assert "code changed" in (stack.local_dir / "stack.log").read_text()
    finally:
        stack.stop()


def _project_local_dir() -> Path:
    local = ROOT / ".local"
    local.mkdir(exist_ok=True)
    return local


def _answered(api: Api, path: str) -> Answer | None:
    try:
        answer = api.get(path)
    except OSError:
        return None
    return answer if answer.status == 200 else None


def _wait_for(probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.5)
    raise AssertionError("the condition did not hold in time")
