"""The platform-admin key of a deployed stage: generated in Secrets Manager by the stack,
registered (as a hash) in the control table by `python -m infra.admin_key`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.dal import control
from chalicelib.dal.schema import ALL_TABLES
from chalicelib.domain.tenancy import hash_secret
from chalicelib.settings import reset_settings
from devtools.tables import ensure_tables, table_names
from infra.admin_key import register_admin_key
from infra.stages import (
    PLATFORM_ADMIN_KEY_SECRET,
    PROJECT_ROOT,
    STAGES,
    chalice_stage_environment,
)
from tests.infra.template_queries import Template, resources_of_type

ADMIN_KEY = "generated-by-secrets-manager-" + "k" * 24


@pytest.fixture
def deployed_dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    # Every variable the registration sets is restored afterwards.
    tables = [spec.environment_variable for spec in ALL_TABLES]
    for name in ("STAGE", "AWS_REGION", "CURSOR_SECRET", *tables):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(
            Name=STAGES["dev"].secret_name(PLATFORM_ADMIN_KEY_SECRET), SecretString=ADMIN_KEY
        )
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        ensure_tables(dynamodb, table_names(chalice_stage_environment(PROJECT_ROOT, "dev")))
        yield client
    reset_settings()


def test_the_admin_key_is_registered_once(deployed_dev: object) -> None:
    # When the key is registered twice
    first = register_admin_key("dev", deployed_dev)
    second = register_admin_key("dev", deployed_dev)
    # Then one key record exists, found by the secret's hash, with the platform role
    assert first == second
    stored = control.get_api_key(hash_secret(ADMIN_KEY))
    assert stored is not None and stored.key_id == first
    assert stored.tenant is None and stored.role.value == "platform_admin"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_each_stage_generates_its_admin_key_secret(
    stage_templates: dict[str, Template], stage: str
) -> None:
    names = {
        secret["Properties"]["Name"]
        for secret in resources_of_type(
            stage_templates[stage], "AWS::SecretsManager::Secret"
        ).values()
    }
    assert STAGES[stage].secret_name(PLATFORM_ADMIN_KEY_SECRET) in names
