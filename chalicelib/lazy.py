"""Deferred imports: a cold Lambda imports a handler's modules when it first runs it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any


@cache
def resolve(module: str, name: str) -> Callable[..., Any]:
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


def deferred(module: str, name: str) -> Callable[..., Any]:
    """A function that imports `module` on its first call and forwards to `module.name`."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return resolve(module, name)(*args, **kwargs)

    call.__name__ = name
    return call
