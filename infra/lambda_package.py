"""What becomes of the zip `chalice package` writes before it is deployed: botocore's API
models for services the functions never call are left out, and compiled bytecode is added.

- botocore ships a model for every AWS service (19 MB of its 22); the functions call only
  AWS_SERVICES, and boto3 and botocore are shipped (pinned together in requirements.txt)
  rather than taken from the runtime, so the models of the others go.
- Chalice packages sources only, and a function's code is read-only at /var/task, so
  without .pyc files every cold start compiles every module it imports. The modules are
  compiled with the runtime's Python (the packaging interpreter, which must be the
  runtime's version: the .pyc format changes between minor versions) into `__pycache__`,
  as unchecked-hash .pyc files: Python loads them without looking at the source's
  timestamp (meaningless once unzipped) and without hashing the source.
- What no function can import is left out: install records (`RECORD`), type stubs,
  botocore's documentation examples, pydantic's mypy plugin, and the Powertools utilities
  the service does not use (UNUSED_LIBRARY_PATHS; nothing else in Powertools imports them).
"""

from __future__ import annotations

import compileall
import py_compile
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

AWS_SERVICES = frozenset({"dynamodb", "apigateway", "events", "sqs", "kms", "s3"})
"""Every AWS service the functions call (chalicelib/dal, chalicelib/services)."""
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the zip: the paths tracebacks show
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the same files give the same zip (and asset hash)
_MODEL_DIRECTORIES = ("botocore/data", "boto3/data")
UNUSED_LIBRARY_PATHS = (
    "aws_lambda_powertools/utilities/auth_alpha",
    "aws_lambda_powertools/utilities/feature_flags",
    "aws_lambda_powertools/utilities/kafka",
    "aws_lambda_powertools/utilities/parameters",
    "aws_lambda_powertools/utilities/streaming",
    "aws_lambda_powertools/metrics/provider/datadog",
    "pydantic/mypy.py",
)
_UNUSED_FILE_PATTERNS = ("*.dist-info/RECORD", "*.pyi", "examples-1.json")


def running_python() -> str:
    """This interpreter as a Lambda runtime name, e.g. `python3.13`."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _drop_unused_service_models(tree: Path) -> None:
    for models in _MODEL_DIRECTORIES:
        if not (tree / models).is_dir():
            continue  # an app that ships neither (tests/infra/stream_app)
        for service in (tree / models).iterdir():
            if service.is_dir() and service.name not in AWS_SERVICES:
                shutil.rmtree(service)


def _drop_unused_files(tree: Path) -> None:
    for relative in UNUSED_LIBRARY_PATHS:
        path = tree / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.is_file():
            path.unlink()
    for pattern in _UNUSED_FILE_PATTERNS:
        for path in tree.rglob(pattern):
            path.unlink()


def _compile(tree: Path) -> None:
    """Modules that do not compile under this Python are shipped as they are (they would
    fail at import on Lambda too)."""
    compileall.compile_dir(
        tree,
        ddir=LAMBDA_TASK_ROOT,
        quiet=2,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )


def _zip_tree(source: Path, destination: Path) -> None:
    files = sorted(path for path in source.rglob("*") if path.is_file())
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            entry = zipfile.ZipInfo(path.relative_to(source).as_posix(), ZIP_TIMESTAMP)
            entry.external_attr = (path.stat().st_mode & 0o777) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes(), compresslevel=9)


def finish_deployment_zip(deployment_zip: Path) -> None:
    """Rewrite `deployment_zip` without what no function imports, and with bytecode."""
    with tempfile.TemporaryDirectory(prefix="lambda-package-") as scratch:
        tree = Path(scratch) / "tree"
        with zipfile.ZipFile(deployment_zip) as archive:
            archive.extractall(tree)
        _drop_unused_service_models(tree)
        _drop_unused_files(tree)
        _compile(tree)
        rebuilt = Path(scratch) / "deployment.zip"
        _zip_tree(tree, rebuilt)
        shutil.move(rebuilt, deployment_zip)
