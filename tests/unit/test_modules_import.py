"""Every module of the service imports on its own: views, jobs and stream handlers import
theirs lazily, on first use, so a broken import would otherwise show only on that route."""

from __future__ import annotations

import importlib
import pkgutil

import chalicelib


def test_every_chalicelib_module_imports() -> None:
    # Given every module under chalicelib
    names = [module.name for module in pkgutil.walk_packages(chalicelib.__path__, "chalicelib.")]

    # When each is imported
    failures = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - the test reports every failure at once
            failures[name] = repr(error)

    # Then none failed
    assert len(names) > 100
    assert failures == {}
