"""What differs between the deployed stages. Table names and the Lambda's environment come
from the stage in .chalice/config.json; everything AWS-only is set here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from chalicelib.settings import MAX_AUTH_CACHE_SECONDS

APP_NAME = "customer-ops"
LAMBDA_RUNTIME = "python3.13"
"""Every function's runtime; the packaging Python (and so the local venv) must match it."""
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CURSOR_SECRET = "cursor-secret"
PLATFORM_ADMIN_KEY_SECRET = "platform-admin-key"
AUTHORIZER_CACHE_SECONDS = 0
"""The authoriser function's AUTH_CACHE_SECONDS: API Gateway caches its answers already."""


@dataclass(frozen=True)
class ApiThrottle:
    """Stage-wide API Gateway limit: requests per second (steady) and burst."""

    rate_limit: float
    burst_limit: int


@dataclass(frozen=True)
class AlarmThresholds:
    lambda_errors_per_5_minutes: int
    lambda_throttles_per_5_minutes: int
    dynamodb_throttles_per_5_minutes: int
    api_5xx_rate: float  # fraction of requests answered 5xx by API Gateway, per 5 minutes
    api_5xx_evaluation_periods: int


@dataclass(frozen=True)
class StageSettings:
    name: str
    protect_data: bool  # deletion protection on, and tables and keys retained on stack delete
    log_retention: logs.RetentionDays
    lambda_memory_mb: int
    api_timeout_seconds: int  # below API Gateway's 29 s integration limit
    job_timeout_seconds: int  # scheduled and stream functions
    auth_cache_seconds: int
    """How long an authentication answer is reused (at most MAX_AUTH_CACHE_SECONDS, 5 s):
    API Gateway's authoriser result cache TTL, and AUTH_CACHE_SECONDS of every function but
    the authoriser, which caches nothing in-process (AUTHORIZER_CACHE_SECONDS) so the two
    caches do not stack: a revoked key or suspended tenant stops working within this time."""
    throttle: ApiThrottle
    platform_throttle: ApiThrottle  # the platform-admin key's own usage plan
    alarms: AlarmThresholds

    def __post_init__(self) -> None:
        if not 0 <= self.auth_cache_seconds <= MAX_AUTH_CACHE_SECONDS:
            raise ValueError(
                f"auth_cache_seconds is at most {MAX_AUTH_CACHE_SECONDS} (issue 13: revocation "
                f"within {MAX_AUTH_CACHE_SECONDS} s), not {self.auth_cache_seconds}"
            )

    @property
    def stack_name(self) -> str:
        return f"{APP_NAME}-{self.name}"

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.protect_data else RemovalPolicy.DESTROY

    def resource_name(self, suffix: str) -> str:
        return f"{APP_NAME}-{self.name}-{suffix}"

    def secret_name(self, secret: str) -> str:
        return f"{APP_NAME}/{self.name}/{secret}"


STAGES: dict[str, StageSettings] = {
    "dev": StageSettings(
        name="dev",
        protect_data=False,
        log_retention=logs.RetentionDays.TWO_WEEKS,
        lambda_memory_mb=512,
        api_timeout_seconds=15,
        job_timeout_seconds=60,
        auth_cache_seconds=5,
        throttle=ApiThrottle(rate_limit=50, burst_limit=100),
        platform_throttle=ApiThrottle(rate_limit=10, burst_limit=20),
        alarms=AlarmThresholds(
            lambda_errors_per_5_minutes=5,
            lambda_throttles_per_5_minutes=1,
            dynamodb_throttles_per_5_minutes=1,
            api_5xx_rate=0.05,
            api_5xx_evaluation_periods=3,
        ),
    ),
    "prod": StageSettings(
        name="prod",
        protect_data=True,
        log_retention=logs.RetentionDays.THREE_MONTHS,
        lambda_memory_mb=1024,
        api_timeout_seconds=15,
        job_timeout_seconds=60,
        auth_cache_seconds=5,
        throttle=ApiThrottle(rate_limit=1000, burst_limit=2000),
        platform_throttle=ApiThrottle(rate_limit=10, burst_limit=20),
        alarms=AlarmThresholds(
            lambda_errors_per_5_minutes=1,
            lambda_throttles_per_5_minutes=1,
            dynamodb_throttles_per_5_minutes=1,
            api_5xx_rate=0.01,
            api_5xx_evaluation_periods=2,
        ),
    ),
}


def chalice_stage_environment(source_dir: Path, stage: str) -> dict[str, str]:
    """The environment .chalice/config.json gives a stage (global values, then the stage's)."""
    config = json.loads((source_dir / ".chalice" / "config.json").read_text())
    if stage not in config.get("stages", {}):
        raise KeyError(f"no stage {stage!r} in {source_dir}/.chalice/config.json")
    environment = dict(config.get("environment_variables", {}))
    environment.update(config["stages"][stage].get("environment_variables", {}))
    return environment
