"""Packages the Chalice app with Chalice's CDK construct and reads back what it produced."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from chalice.cdk import Chalice
from constructs import Construct

from infra.lambda_package import finish_deployment_zip, running_python
from infra.stages import LAMBDA_RUNTIME, PROJECT_ROOT

SAM_FUNCTION = "AWS::Serverless::Function"
SAM_API = "AWS::Serverless::Api"


@dataclass(frozen=True)
class PackagedApp:
    construct: Chalice
    template: Mapping[str, Any]
    """The SAM template `chalice package` wrote, as included (before CDK overrides)."""

    def resources_of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.template["Resources"]
        return {name: r for name, r in resources.items() if r["Type"] == resource_type}

    @property
    def functions(self) -> dict[str, Mapping[str, Any]]:
        return self.resources_of_type(SAM_FUNCTION)


class RuntimeMismatch(RuntimeError):
    """The app is being packaged by a Python other than the pinned Lambda runtime's."""


class LeanChalice(Chalice):
    """Chalice's construct, its zip finished (infra/lambda_package.py) before it becomes a
    CDK asset (Chalice names the runtime after, and fetches wheels for, the packaging
    Python: it must be the pinned runtime's)."""

    def _package_app(self) -> None:
        if running_python() != LAMBDA_RUNTIME:
            raise RuntimeMismatch(
                f"the Lambda runtime is pinned to {LAMBDA_RUNTIME} (infra/stages.py) but this "
                f"is {running_python()}: package with {LAMBDA_RUNTIME} (`make deps` builds "
                f".venv on it), or its wheels and bytecode would not load on Lambda"
            )
        super()._package_app()
        finish_deployment_zip(Path(self._sam_package_dir) / "deployment.zip")


# Chalice imports a project as the module `app`, and this project's app.py cannot be
# imported twice in one process (its blueprints are registered once), so each project's
# module is kept here and put back under `app` whenever that project is packaged again.
_app_modules: dict[Path, ModuleType] = {}


def _directory_of(module: ModuleType | None) -> Path | None:
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve().parent if filename else None


@contextmanager
def _packaging_context(source_dir: Path, workdir: Path) -> Iterator[None]:
    """Run `chalice package` from `workdir` with `source_dir`'s app.py as the module `app`.

    The construct writes its output under the current directory; the directory, the module
    `app` (to this project's app when none was loaded) and the process environment (Chalice
    loads the app with the stage's environment variables set) are restored afterwards, so
    one process can package more than one project (the tests do).
    """
    source_dir = source_dir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    saved_cwd, saved_path = Path.cwd(), list(sys.path)
    saved_environ = dict(os.environ)
    saved_app = sys.modules.get("app")
    if saved_app is not None and _directory_of(saved_app) == source_dir:
        _app_modules[source_dir] = saved_app
    if source_dir in _app_modules:
        sys.modules["app"] = _app_modules[source_dir]
    else:
        sys.modules.pop("app", None)
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_environ)
        loaded = sys.modules.get("app")
        if loaded is not None and _directory_of(loaded) == source_dir:
            _app_modules[source_dir] = loaded
        restore = saved_app or _app_modules.get(PROJECT_ROOT)
        if restore is None:
            sys.modules.pop("app", None)
        else:
            sys.modules["app"] = restore


def package_chalice_app(
    scope: Construct,
    construct_id: str,
    source_dir: Path,
    stage_config: Mapping[str, Any],
    workdir: Path,
) -> PackagedApp:
    """Package the app for the stage named by `scope` (its construct path, Chalice's rule).

    `workdir` must be empty or absent: the SAM template is read back from the one
    `chalice.out/*.sam_with_assets.json` the construct writes there.
    """
    if workdir.exists() and any(workdir.iterdir()):
        raise ValueError(f"chalice packaging directory {workdir} is not empty")
    with _packaging_context(source_dir, workdir):
        construct = LeanChalice(
            scope, construct_id, source_dir=str(source_dir), stage_config=dict(stage_config)
        )
    templates = list((workdir / "chalice.out").glob("*.sam_with_assets.json"))
    if len(templates) != 1:
        raise RuntimeError(f"expected one SAM template from chalice package, found {templates}")
    return PackagedApp(construct, json.loads(templates[0].read_text()))
