"""`make run`'s reloader: polls the modification times of the code alone.

`chalice local`'s own reloader watches the whole project, `.local/` (DynamoDB Local's data,
the stream runner's state) and `.venv` included, so every write restarted the API and
dropped requests under load. This watcher looks at the paths it is given (by default
`app.py`, `chalicelib/` and `.chalice/config.json`); files under a watched folder count
when they end in `.py` or `.json`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from devtools.dynamodb_local import ROOT

DEFAULT_WATCHED = (ROOT / "app.py", ROOT / "chalicelib", ROOT / ".chalice" / "config.json")
WATCHED_SUFFIXES = frozenset({".py", ".json"})

Snapshot = dict[Path, int]


def watched_paths_from(value: str | None) -> tuple[Path, ...]:
    """The paths in `value` (separated by os.pathsep, as WATCH_PATHS), else the defaults."""
    if not value:
        return DEFAULT_WATCHED
    return tuple(Path(part).resolve() for part in value.split(os.pathsep) if part)


def _files(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            for directory, folders, names in os.walk(root):
                folders[:] = [name for name in folders if name != "__pycache__"]
                for name in names:
                    if Path(name).suffix in WATCHED_SUFFIXES:
                        yield Path(directory, name)


def _snapshot(roots: Iterable[Path]) -> Snapshot:
    snapshot: Snapshot = {}
    for path in _files(roots):
        try:
            snapshot[path] = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return snapshot


class CodeWatcher:
    """`changed()` answers the files added, removed or modified since it last looked."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = tuple(roots)
        self._seen = _snapshot(self.roots)

    def changed(self) -> list[Path]:
        now = _snapshot(self.roots)
        differences = sorted(
            path for path in now.keys() | self._seen.keys() if now.get(path) != self._seen.get(path)
        )
        self._seen = now
        return differences
