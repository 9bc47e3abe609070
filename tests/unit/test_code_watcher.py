"""The code-only watcher behind `make run`'s reloads."""

from __future__ import annotations

import os
from pathlib import Path

from devtools.code_watcher import DEFAULT_WATCHED, CodeWatcher, watched_paths_from


def _touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_only_code_changes_are_seen(tmp_path: Path) -> None:
    # Given a watched folder with code, data and bytecode
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    module = tmp_path / "pkg" / "module.py"
    module.write_text("VALUE = 1\n")
    data = tmp_path / "pkg" / "table.db"
    data.write_text("rows")
    bytecode = tmp_path / "pkg" / "__pycache__" / "module.cpython-311.py"
    bytecode.write_text("")
    watcher = CodeWatcher([tmp_path / "pkg"])

    # When data and bytecode change, Then nothing is reported
    _touch_later(data)
    _touch_later(bytecode)
    assert watcher.changed() == []

    # When code is modified, added and removed, Then each is reported once
    _touch_later(module)
    assert watcher.changed() == [module]
    added = tmp_path / "pkg" / "new.py"
    added.write_text("")
    assert watcher.changed() == [added]
    added.unlink()
    assert watcher.changed() == [added]
    assert watcher.changed() == []


def test_watched_paths_default_to_the_code_and_can_be_set(tmp_path: Path) -> None:
    # Given no setting, Then the app, chalicelib and the Chalice config are watched
    assert {path.name for path in watched_paths_from(None)} == {
        "app.py",
        "chalicelib",
        "config.json",
    }
    assert not any(part in {".local", ".venv"} for p in DEFAULT_WATCHED for part in p.parts)

    # Given WATCH_PATHS, Then exactly its paths are watched
    value = os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b.py")])
    assert watched_paths_from(value) == (tmp_path / "a", tmp_path / "b.py")
