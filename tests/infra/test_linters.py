"""cfn-lint and checkov over the synthesised templates, from their own venv (.venv-iac).

Findings the design answers differently are suppressed in the template itself, each with
its reason (infra/suppressions.py); a suppression without a reason fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import Synthesised

ROOT = Path(__file__).resolve().parents[2]
LINT_BIN = ROOT / ".venv-iac" / "bin"


def _tool(name: str) -> Path:
    path = LINT_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make deps` (it installs infra/requirements-lint.txt)")
    return path


def _run(command: list[str | Path]) -> subprocess.CompletedProcess[str]:
    # checkov would fetch guidelines from its vendor's API: no network is wanted or needed.
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": ""}
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )


def _cfn_lint(templates: list[Path]) -> subprocess.CompletedProcess[str]:
    return _run([_tool("cfn-lint"), *templates])


def _checkov(templates: list[Path]) -> list[dict[str, Any]]:
    arguments: list[str | Path] = [
        _tool("checkov"),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--output",
        "json",
    ]
    for template in templates:
        arguments += ["--file", template]
    result = _run(arguments)
    assert result.stdout, result.stderr
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def test_cfn_lint_finds_nothing(synthesised: Synthesised) -> None:
    templates = synthesised.template_files()
    assert len(templates) == 3
    result = _cfn_lint(templates)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_nothing_and_every_suppression_has_a_reason(
    synthesised: Synthesised,
) -> None:
    (report,) = _checkov(synthesised.template_files())
    results = report["results"]
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in results["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 50, "checkov checked almost nothing"
    for skipped in results["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 40, skipped["check_id"]


BAD_TEMPLATE = {
    "Resources": {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "NoSuchProperty": True,
            },
        }
    }
}


def test_the_linters_do_fail_on_a_bad_template(tmp_path: Path) -> None:
    # Given a table with an unknown property, no PITR and no customer-managed key
    bad = tmp_path / "bad.template.json"
    bad.write_text(json.dumps(BAD_TEMPLATE))
    # Then both linters object
    assert _cfn_lint([bad]).returncode != 0
    (report,) = _checkov([bad])
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert {"CKV_AWS_28", "CKV_AWS_119"} <= failed


def test_the_cdks_own_validation_reports_nothing(synthesised: Synthesised) -> None:
    report = json.loads((synthesised.directory / "validation-report.json").read_text())
    violations = [v for plugin in report["pluginReports"] for v in plugin["violations"]]
    assert violations == []
    for metadata in synthesised.directory.glob("*.metadata.json"):
        for path, entries in json.loads(metadata.read_text()).items():
            problems = [e for e in entries if e["type"] in ("aws:cdk:warning", "aws:cdk:error")]
            assert problems == [], path
