"""Service settings: one pydantic model, read from the environment once, lazily."""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chalicelib.domain.tenancy import Plan
from chalicelib.streams_config import AUDIT_DIGEST_PERIOD_MINUTES

MAX_AUTH_CACHE_SECONDS = 5
"""Issue 13: revocation and suspension take effect within 5 s in every stage."""
MAX_MERGE_REQUEST_BUDGET_SECONDS = 12
"""The ceiling of MERGE_REQUEST_BUDGET_SECONDS in deployed stages: the API function times
out after 15 s (infra/stages.py), and a request goes on past its budget to finish the step
under way and queue the rest."""
MAX_LOCAL_MERGE_REQUEST_BUDGET_SECONDS = 3_600
"""The local stage's ceiling (`chalice local` and the test client have no timeout)."""
DEFAULT_DYNAMODB_MAX_POOL_CONNECTIONS = 16
"""A Lambda container handles one request at a time, but one invocation may run work on up
to 16 threads over the shared DynamoDB client (a campaign page's sends; a batch's items on
8): botocore's default pool of 10 would open and discard connections for the rest."""


class SettingsError(RuntimeError):
    """The environment does not describe a usable deployment."""


class Settings(BaseModel):
    model_config = {"frozen": True}

    stage: str = Field(min_length=1)
    control_table: str = Field(min_length=3)
    data_table: str = Field(min_length=3)
    idempotency_table: str = Field(min_length=3)
    audit_table: str = Field(min_length=3)
    aws_region: str = Field(min_length=1)
    dynamodb_endpoint: str | None = None
    cursor_secret: SecretStr = Field(min_length=32)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    auth_cache_seconds: int = Field(default=5, ge=0, le=MAX_AUTH_CACHE_SECONDS)
    """How long a process reuses an authentication answer or a tenant's loyalty
    configuration: a revoked key or a suspended tenant is refused within this time."""
    rate_limit_in_app: bool = False
    event_bus_name: str | None = None
    audit_requests: bool = True
    audit_signing_key_id: str | None = None
    """The audit chain's KMS key (ECC_NIST_P256, SIGN_VERIFY), set by infra in deployed
    stages: the chain's functions sign with it, the API verifies (docs/security.md)."""
    audit_signing_key_file: str | None = None
    """Locally, the chain key's PEM file (created on first use, mode 600); its public key
    sits beside it as `<file>.pub`. Default `.local/audit-signing-key.pem` (stage local)."""
    audit_digest_period_seconds: int = Field(default=AUDIT_DIGEST_PERIOD_MINUTES * 60, ge=1)
    """How often the digest schedule appends a digest to every tenant's chain."""
    audit_digest_grace_seconds: int = Field(default=300, ge=0)
    """How late a digest may be before verification reports the chain's tail missing."""
    webhook_local_receivers: bool = False
    """WEBHOOK_LOCAL_RECEIVERS: webhooks may use http and loopback addresses (the `local`
    stage only; deployed stages accept public https receivers only)."""
    webhook_queue_url: str | None = None
    """WEBHOOK_QUEUE_URL: the SQS queue of webhook deliveries (set by infra; locally by
    the runner, on moto's in-process SQS)."""
    webhook_backoff_seconds: int = Field(default=30, ge=0, le=3_600)
    """WEBHOOK_BACKOFF_SECONDS: the first retry's delay; each further retry doubles it."""
    imports_bucket: str | None = None
    """IMPORTS_BUCKET: the S3 bucket of import files (set by infra; uploads are presigned
    PUTs). Without it (locally) files are kept under `imports_dir`."""
    imports_dir: str | None = None
    """IMPORTS_DIR: locally, the directory of import files, uploaded straight to the API
    (PUT /v1/imports/{id}/file) and read by the import worker (default `.local/imports`)."""
    import_queue_url: str | None = None
    """IMPORT_QUEUE_URL: the SQS queue of import chunks (set by infra; locally by the
    runner, on moto's in-process SQS)."""
    merge_request_budget_seconds: float = Field(
        default=10.0, ge=0, le=MAX_LOCAL_MERGE_REQUEST_BUDGET_SECONDS
    )
    """MERGE_REQUEST_BUDGET_SECONDS: how long a merge request moves items before it answers
    202 and hands the rest to the merge queue (issue 16). 0 answers 202 after one step. At
    most MAX_MERGE_REQUEST_BUDGET_SECONDS (12) outside the local stage."""
    merge_queue_url: str | None = None
    """MERGE_QUEUE_URL: the SQS queue of merge continuations (set by infra; locally by the
    runner, on moto's in-process SQS)."""
    campaign_send_queue_url: str | None = None
    """CAMPAIGN_SEND_QUEUE_URL: the SQS queue of campaign recipient pages (set by infra;
    locally by the runner, on moto's in-process SQS)."""
    dynamodb_max_pool_connections: int = Field(
        default=DEFAULT_DYNAMODB_MAX_POOL_CONNECTIONS, ge=1, le=1_000
    )
    """DYNAMODB_MAX_POOL_CONNECTIONS: how many connections the process's one DynamoDB client
    keeps open for reuse (chalicelib/dal/connection.py). More threads than that calling at
    once still get a connection each, but botocore then discards the extra ones ("Connection
    pool is full, discarding connection"). `chalice local` serves every request on a thread
    of its own, so the local stage sets more (.chalice/config.json)."""
    audit_heartbeat_queue_url: str | None = None
    """AUDIT_HEARTBEAT_QUEUE_URL: the SQS queue of pages of tenants due an audit heartbeat
    (set by infra; locally by the runner, on moto's in-process SQS)."""
    gateway_usage_plans: dict[str, str] = Field(default_factory=dict)
    """Plan name → API Gateway usage plan name (GATEWAY_USAGE_PLANS, a JSON object), set
    by infra in deployed stages. Empty (locally): tenants get no API Gateway key and the
    in-application limiter (RATE_LIMIT_IN_APP) is the only per-tenant limit."""

    @field_validator("gateway_usage_plans")
    @classmethod
    def _every_plan_has_a_usage_plan(cls, plans: dict[str, str]) -> dict[str, str]:
        if plans and set(plans) != {plan.value for plan in Plan}:
            raise ValueError("name a usage plan for every plan, or none")
        return plans

    @field_validator("merge_request_budget_seconds")
    @classmethod
    def _merge_budget_within_the_api_timeout(cls, budget: float, info: ValidationInfo) -> float:
        if info.data.get("stage") != "local" and budget > MAX_MERGE_REQUEST_BUDGET_SECONDS:
            raise ValueError(f"at most {MAX_MERGE_REQUEST_BUDGET_SECONDS} outside the local stage")
        return budget

    def derived_key(self, label: str) -> bytes:
        """An HMAC key for one purpose, derived from the service secret (`CURSOR_SECRET`)
        under its own label, so a signature made for one purpose is worthless for another."""
        secret = self.cursor_secret.get_secret_value().encode()
        return hashlib.sha256(f"customer-ops {label}\x00".encode() + secret).digest()

    @model_validator(mode="after")
    def _local_receivers_only_locally(self) -> Settings:
        if self.webhook_local_receivers and self.stage != "local":
            raise ValueError("webhook_local_receivers is for the local stage only")
        return self

    @classmethod
    def from_environ(cls, environ: dict[str, str]) -> Settings:
        def read(name: str) -> str | None:
            value = environ.get(name)
            return value if value else None

        raw: dict[str, object] = {
            "stage": read("STAGE"),
            "control_table": read("CONTROL_TABLE"),
            "data_table": read("DATA_TABLE"),
            "idempotency_table": read("IDEMPOTENCY_TABLE"),
            "audit_table": read("AUDIT_TABLE"),
            "audit_requests": read("AUDIT_REQUESTS"),
            "aws_region": read("AWS_REGION") or read("AWS_DEFAULT_REGION"),
            "dynamodb_endpoint": read("DYNAMODB_ENDPOINT"),
            "cursor_secret": read("CURSOR_SECRET"),
            "max_body_bytes": read("MAX_BODY_BYTES"),
            "auth_cache_seconds": read("AUTH_CACHE_SECONDS"),
            "rate_limit_in_app": read("RATE_LIMIT_IN_APP"),
            "event_bus_name": read("EVENT_BUS_NAME"),
            "audit_signing_key_id": read("AUDIT_SIGNING_KEY_ID"),
            "audit_signing_key_file": read("AUDIT_SIGNING_KEY_FILE"),
            "audit_digest_period_seconds": read("AUDIT_DIGEST_PERIOD_SECONDS"),
            "audit_digest_grace_seconds": read("AUDIT_DIGEST_GRACE_SECONDS"),
            "webhook_local_receivers": read("WEBHOOK_LOCAL_RECEIVERS"),
            "webhook_queue_url": read("WEBHOOK_QUEUE_URL"),
            "webhook_backoff_seconds": read("WEBHOOK_BACKOFF_SECONDS"),
            "imports_bucket": read("IMPORTS_BUCKET"),
            "imports_dir": read("IMPORTS_DIR"),
            "import_queue_url": read("IMPORT_QUEUE_URL"),
            "merge_request_budget_seconds": read("MERGE_REQUEST_BUDGET_SECONDS"),
            "merge_queue_url": read("MERGE_QUEUE_URL"),
            "campaign_send_queue_url": read("CAMPAIGN_SEND_QUEUE_URL"),
            "dynamodb_max_pool_connections": read("DYNAMODB_MAX_POOL_CONNECTIONS"),
            "audit_heartbeat_queue_url": read("AUDIT_HEARTBEAT_QUEUE_URL"),
        }
        plans = read("GATEWAY_USAGE_PLANS")
        try:
            if plans is not None:
                raw["gateway_usage_plans"] = json.loads(plans)
        except ValueError as exc:
            raise SettingsError("invalid or missing settings: GATEWAY_USAGE_PLANS") from exc
        try:
            return cls.model_validate({k: v for k, v in raw.items() if v is not None})
        except ValidationError as exc:
            names = ", ".join(
                str(err["loc"][0]).upper() if err["loc"] else "WEBHOOK_LOCAL_RECEIVERS"
                for err in exc.errors()
            )
            raise SettingsError(f"invalid or missing settings: {names}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environ(dict(os.environ))


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
