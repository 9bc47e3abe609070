"""app.py spaces out garbage collections from its import until the first invocation of any
kind has answered (chalicelib/cold_start.py): an API request, a stream batch, the authoriser.
Each case is a fresh interpreter importing app, as a new Lambda container does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from chalicelib.cold_start import COLD_START_THRESHOLD
from devtools.dynamodb_local import ROOT
from devtools.stage import stage_environment

_PROBE = """
import gc, json, sys, types
import app
context = types.SimpleNamespace(
    function_name="probe", memory_limit_in_mb=128, aws_request_id="probe",
    invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:probe",
    get_remaining_time_in_millis=lambda: 30000,
)
imported = [gc.get_threshold()[0], gc.get_freeze_count()]
handler, event = json.loads(sys.argv[1])
try:
    getattr(app, handler)(event, context)
except Exception:
    pass
print(json.dumps({"imported": imported, "invoked": [gc.get_threshold()[0], gc.get_freeze_count()]}))
"""
_GET_CUSTOMERS_WITHOUT_KEY = {
    "requestContext": {
        "httpMethod": "GET",
        "resourcePath": "/v1/customers",
        "path": "/v1/customers",
        "requestId": "probe",
        "identity": {"sourceIp": "127.0.0.1"},
    },
    "headers": {},
    "pathParameters": None,
    "multiValueQueryStringParameters": None,
    "stageVariables": {},
    "body": None,
}
_TOKEN_REQUEST = {
    "type": "TOKEN",
    "authorizationToken": "Bearer not-a-key",
    "methodArn": "arn:aws:execute-api:us-east-1:000000000000:abc/api/GET/v1/customers",
}


@pytest.mark.parametrize(
    ("handler", "event"),
    [
        ("app", _GET_CUSTOMERS_WITHOUT_KEY),
        ("keep_customers_current", {"Records": []}),
        ("authorize_request", _TOKEN_REQUEST),
    ],
    ids=["api request", "stream batch", "authoriser"],
)
def test_the_first_invocation_settles_the_cold_start(handler: str, event: object) -> None:
    # Given a fresh interpreter with the dev stage's environment and no reachable DynamoDB
    environment = {
        **os.environ,
        **stage_environment("dev"),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_MAX_ATTEMPTS": "1",
        "DYNAMODB_ENDPOINT": "http://127.0.0.1:9",
        "CONTROL_TABLE": "probe-control",
        "DATA_TABLE": "probe-data",
        "IDEMPOTENCY_TABLE": "probe-idempotency",
        "AUDIT_TABLE": "probe-audit",
        "CURSOR_SECRET": "s" * 40,
    }
    usual_young_threshold = gc_default_young_threshold()

    # When it imports app and its first invocation answers (or fails)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps([handler, event])],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    # Then collections were spaced out from the import, and after the invocation the
    # start-up objects are frozen and the usual threshold is back
    assert seen["imported"] == [COLD_START_THRESHOLD, 0]
    young_threshold, frozen = seen["invoked"]
    assert young_threshold == usual_young_threshold
    assert frozen > 10_000


def gc_default_young_threshold() -> int:
    result = subprocess.run(
        [sys.executable, "-c", "import gc; print(gc.get_threshold()[0])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout)
