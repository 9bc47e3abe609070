"""Registers a stage's platform-admin key, kept in Secrets Manager, in its control table.

The stack generates the key as the secret `customer-ops/<stage>/platform-admin-key`; the
service stores only its hash. Run once after the first deploy (and after replacing the
secret's value), with the deployer's credentials; it is idempotent:

    .venv/bin/python -m infra.admin_key --stage dev
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import MutableMapping, Sequence
from typing import Any

from infra.stages import (
    PLATFORM_ADMIN_KEY_SECRET,
    PROJECT_ROOT,
    STAGES,
    chalice_stage_environment,
)


def register_admin_key(
    stage: str, secrets_client: Any, environ: MutableMapping[str, str] = os.environ
) -> str:
    """Store the hash of the stage's admin key (if absent); answer the key's id."""
    from chalicelib.services.tenants import register_platform_key

    secret_id = STAGES[stage].secret_name(PLATFORM_ADMIN_KEY_SECRET)
    admin_key = secrets_client.get_secret_value(SecretId=secret_id)["SecretString"]
    use_stage(stage, secrets_client.meta.region_name, environ)
    return register_platform_key(admin_key).key_id


def use_stage(stage: str, region: str, environ: MutableMapping[str, str]) -> None:
    """Point the service's settings at a deployed stage's tables (from this machine)."""
    from chalicelib.dal.schema import ALL_TABLES
    from chalicelib.settings import reset_settings

    stage_environment = chalice_stage_environment(PROJECT_ROOT, stage)
    for name in ["STAGE", *(spec.environment_variable for spec in ALL_TABLES)]:
        environ[name] = stage_environment[name]
    environ["AWS_REGION"] = region
    # The settings model requires a cursor key; these commands never sign a cursor.
    environ["CURSOR_SECRET"] = secrets.token_urlsafe(48)
    environ.pop("DYNAMODB_ENDPOINT", None)
    reset_settings()


def main(argv: Sequence[str] | None = None) -> None:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", required=True, choices=sorted(STAGES))
    args = parser.parse_args(argv)
    key_id = register_admin_key(args.stage, boto3.client("secretsmanager"))
    print(f"platform-admin key {key_id} is registered for {args.stage}")


if __name__ == "__main__":
    main()
