"""Issue 14: the deployment zip `chalice package` writes, as the CDK app ships it (the asset
the synthesised templates point every function at): small, compiled, self-sufficient."""

from __future__ import annotations

import json
import marshal
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.lambda_package import AWS_SERVICES, LAMBDA_TASK_ROOT, UNUSED_LIBRARY_PATHS
from infra.stages import LAMBDA_RUNTIME, PROJECT_ROOT
from tests.infra.conftest import Synthesised
from tests.infra.template_queries import properties, resources_of_type

MB = 1_000_000
MAX_ZIP_BYTES = 12 * MB
MAX_UNPACKED_BYTES = 40 * MB
# Chalice's CLI and its dependencies: none of them runs on Lambda.
BUILD_TOOLS = ("pip", "setuptools", "click", "inquirer", "chalice-")
# Hash-based .pyc whose source is never checked (PEP 552: flags 0b01).
UNCHECKED_HASH_FLAGS = 0b01
SAMPLED_PACKAGES = ("chalicelib", "pydantic", "pynamodb", "aws_lambda_powertools", "botocore")


def _deployment_zips(synthesised: Synthesised) -> list[Path]:
    """Every asset a function's code comes from, in every stage."""
    keys = set()
    for template in synthesised.templates.values():
        for logical_id in resources_of_type(template, "AWS::Serverless::Function"):
            keys.add(properties(template, logical_id)["CodeUri"]["Key"])
    assert keys, "no function found in the templates"
    return [synthesised.directory / f"asset.{key}" for key in sorted(keys)]


@pytest.fixture(scope="module")
def packages(synthesised: Synthesised) -> list[zipfile.ZipFile]:
    return [zipfile.ZipFile(path) for path in _deployment_zips(synthesised)]


def _locked_versions() -> dict[str, str]:
    pins = re.findall(
        r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", (PROJECT_ROOT / "requirements.txt").read_text(), re.M
    )
    return {name.lower(): version for name, version in pins}


def test_every_function_runs_on_the_pinned_runtime(synthesised: Synthesised) -> None:
    for stage, template in synthesised.templates.items():
        for logical_id in resources_of_type(template, "AWS::Serverless::Function"):
            assert properties(template, logical_id)["Runtime"] == LAMBDA_RUNTIME, (
                stage,
                logical_id,
            )
    assert LAMBDA_RUNTIME in ("python3.12", "python3.13")


def test_the_zip_and_its_contents_stay_small(packages: list[zipfile.ZipFile]) -> None:
    for package in packages:
        assert Path(str(package.filename)).stat().st_size <= MAX_ZIP_BYTES, package.filename
        unpacked = sum(entry.file_size for entry in package.infolist())
        assert unpacked <= MAX_UNPACKED_BYTES, (package.filename, unpacked)


def test_no_build_tool_ships(packages: list[zipfile.ZipFile]) -> None:
    for package in packages:
        tops = {name.split("/")[0] for name in package.namelist()}
        assert not [top for top in tops if top.lower().startswith(BUILD_TOOLS)], tops
        # Chalice's runtime module is all of Chalice that ships
        assert {
            n for n in package.namelist() if n.startswith("chalice/") and n.endswith(".py")
        } <= {
            "chalice/__init__.py",
            "chalice/app.py",
        }


def test_boto3_and_botocore_ship_at_their_locked_versions(packages: list[zipfile.ZipFile]) -> None:
    locked = _locked_versions()
    for package in packages:
        tops = {name.split("/")[0] for name in package.namelist()}
        for library in ("boto3", "botocore"):
            shipped = sorted(top for top in tops if top.startswith(f"{library}-"))
            assert shipped == [f"{library}-{locked[library]}.dist-info"], shipped
    assert locked["boto3"] == locked["botocore"]


def _pyc_name(module: str) -> str:
    directory, _, filename = module.rpartition("/")
    tag = "cpython-" + LAMBDA_RUNTIME.removeprefix("python").replace(".", "")
    prefix = f"{directory}/" if directory else ""
    return f"{prefix}__pycache__/{filename.removesuffix('.py')}.{tag}.pyc"


def test_the_app_and_its_libraries_ship_unchecked_bytecode_for_the_runtime(
    packages: list[zipfile.ZipFile],
) -> None:
    for package in packages:
        names = set(package.namelist())
        modules = [
            name
            for name in names
            if name.endswith(".py") and (name == "app.py" or name.startswith(SAMPLED_PACKAGES))
        ]
        assert "app.py" in modules and len(modules) > 500
        missing = [module for module in modules if _pyc_name(module) not in names]
        assert not missing, missing[:10]
        for module in ("app.py", "chalicelib/dal/connection.py", "pydantic/main.py"):
            compiled = package.read(_pyc_name(module))
            assert int.from_bytes(compiled[4:8], "little") == UNCHECKED_HASH_FLAGS, module
            code = marshal.loads(compiled[16:])
            assert code.co_filename == f"{LAMBDA_TASK_ROOT}/{module}", module


def test_the_package_imports_the_app_and_builds_its_clients_on_its_own(
    packages: list[zipfile.ZipFile], tmp_path: Path
) -> None:
    # Given the zip unpacked, and an interpreter that sees nothing but it and the stdlib
    package = packages[0]
    package.extractall(tmp_path)
    probe = (
        "import boto3, app, chalicelib.api.docs as docs, importlib, pkgutil, chalicelib; "
        "[importlib.import_module(m.name) for m in "
        "pkgutil.walk_packages(chalicelib.__path__, 'chalicelib.')]; "
        f"clients = [boto3.client(s, region_name='us-east-1') for s in {sorted(AWS_SERVICES)!r}]; "
        "print(app.__cached__, len(clients), len(docs._asset('swagger-ui-bundle.js')))"
    )
    environment = {"PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin"}

    # When it imports the app and builds a client for each service the functions call
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # Then it needs nothing from outside the zip, and every module of the service imports
    assert done.returncode == 0, done.stderr[-2000:]
    cached, clients, bundle = done.stdout.split()
    assert cached.endswith(".pyc") and int(clients) == len(AWS_SERVICES) and int(bundle) > 1_000_000
    assert json.loads(package.read("chalicelib/api/swagger_ui/manifest.json"))["version"]


def test_every_aws_service_the_functions_call_keeps_its_model() -> None:
    # Given every AWS client the service code builds
    sources = (PROJECT_ROOT / "chalicelib").rglob("*.py")
    called = {
        service
        for source in sources
        for service in re.findall(r"""\.client\(\s*["']([a-z0-9-]+)["']""", source.read_text())
    }

    # Then the package keeps the API model of each
    assert called and called <= AWS_SERVICES, called - AWS_SERVICES


def test_no_service_code_imports_what_the_package_leaves_out() -> None:
    # Given the modules the package leaves out, as dotted names
    left_out = [path.removesuffix(".py").replace("/", ".") for path in UNUSED_LIBRARY_PATHS]
    sources = [PROJECT_ROOT / "app.py", *(PROJECT_ROOT / "chalicelib").rglob("*.py")]

    # Then no module of the service names one of them
    offenders = [
        (source.name, module)
        for source in sources
        for module in left_out
        if re.search(rf"\b{re.escape(module)}\b", source.read_text())
    ]
    assert not offenders, offenders
