"""One stage of the service: tables, the Chalice app, its roles, API settings, streams,
the event bus, secrets and alarms."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from chalicelib.dal.schema import ALL_TABLES
from chalicelib.domain.plans import PLAN_LIMITS
from chalicelib.queues_config import QUEUE_CONSUMERS, QueueConsumer
from chalicelib.streams_config import STREAM_CONSUMERS, StreamConsumer
from infra.access import FUNCTION_ACCESS, QUEUE_SENDERS, ChainKeyUse, FunctionAccess
from infra.alarms import ServiceAlarms
from infra.api import AUTHORIZER_FUNCTION, configure_rest_api, declare_usage_plans, usage_plan_name
from infra.chalice_app import package_chalice_app
from infra.dashboard import ServiceDashboard
from infra.imports_bucket import grant_import_files, imports_bucket
from infra.queues import wire_queue_consumers
from infra.roles import CHAIN_KEY_ACTIONS, GatewayKeys, function_role
from infra.stages import (
    APP_NAME,
    AUTHORIZER_CACHE_SECONDS,
    CURSOR_SECRET,
    LAMBDA_RUNTIME,
    PLATFORM_ADMIN_KEY_SECRET,
    PROJECT_ROOT,
    StageSettings,
    chalice_stage_environment,
)
from infra.streams import wire_stream_consumers
from infra.suppressions import FUNCTION_CHECKS, skip_checkov
from infra.tables import build_tables

CURSOR_SECRET_LENGTH = 64  # chalicelib.settings requires at least 32 characters
ADMIN_KEY_LENGTH = 48
API_FUNCTION = "APIHandler"  # Chalice's name for the function behind the REST API
# Functions API Gateway waits for: they must answer within its 29 s integration limit.
SYNCHRONOUS_FUNCTIONS = frozenset({API_FUNCTION, AUTHORIZER_FUNCTION})
IMPORT_WORKER = "ProcessImports"  # the import queue's consumer (infra/access.py)


class CustomerOpsStack(Stack):
    """The service for one stage. The construct id is the stage name: Chalice's construct
    packages the app for the stage its scope is named after."""

    def __init__(
        self,
        scope: Construct,
        stage: StageSettings,
        *,
        packaging_dir: Path,
        source_dir: Path = PROJECT_ROOT,
        function_access: Mapping[str, FunctionAccess] = FUNCTION_ACCESS,
        stream_consumers: Mapping[str, StreamConsumer] = STREAM_CONSUMERS,
        queue_consumers: Mapping[str, QueueConsumer] = QUEUE_CONSUMERS,
        queue_senders: Mapping[str, tuple[str, ...]] = QUEUE_SENDERS,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            stage.name,
            stack_name=stage.stack_name,
            description=f"{APP_NAME} ({stage.name}): API, tables, streams and alarms",
            **kwargs,
        )
        if self.node.path != stage.name:
            raise ValueError(
                f"the {stage.name} stack must sit at the app's root, not {self.node.path}"
            )
        self.stage = stage
        names = chalice_stage_environment(source_dir, stage.name)
        self.key = self._data_key()
        self.audit_chain_key = self._audit_chain_key()
        self.tables = build_tables(self, names, self.key, stage)
        self.cursor_secret = self._generated_secret(
            "CursorSecret", CURSOR_SECRET, CURSOR_SECRET_LENGTH, "HMAC key of paging cursors"
        )
        self.admin_key_secret = self._generated_secret(
            "PlatformAdminKey", PLATFORM_ADMIN_KEY_SECRET, ADMIN_KEY_LENGTH, "platform-admin key"
        )
        self.event_bus = events.EventBus(
            self, "EventBus", event_bus_name=stage.resource_name("events")
        )
        self.imports_bucket = imports_bucket(self, self.key, stage)

        self.app = package_chalice_app(
            self, "Api", source_dir, self._chalice_stage_config(), packaging_dir
        )
        unknown = sorted(set(self.app.functions) - set(function_access))
        if unknown:
            raise ValueError(
                f"functions without declared access (add them to infra/access.py): {unknown}"
            )
        self.function_names = {
            logical_id: f"{stage.stack_name}-{logical_id}" for logical_id in self.app.functions
        }
        self.api_stage = self._api_gateway_stage(source_dir)
        self.usage_plans = declare_usage_plans(self, self.api_stage, stage)
        gateway_keys = GatewayKeys(
            stage=stage.name, usage_plan_ids=[plan.ref for plan in self.usage_plans.values()]
        )
        self.roles = {
            logical_id: self._configure_function(
                logical_id, function_access[logical_id], gateway_keys
            )
            for logical_id in self.app.functions
        }
        self._allow_chain_key_use(function_access)
        if IMPORT_WORKER in self.roles:
            grant_import_files(
                self.imports_bucket, self.key, self.roles[API_FUNCTION], self.roles[IMPORT_WORKER]
            )
        self.access_logs = configure_rest_api(self, self.app, self.key, stage)
        self.stream_consumers = wire_stream_consumers(
            self, self.app, stream_consumers, self.tables, self.roles, self.key, stage
        )
        self.queue_consumers = wire_queue_consumers(
            self, self.app, queue_consumers, queue_senders, self.roles, self.key, stage
        )

        self.alarms = ServiceAlarms(self, "Alarms", self.key, stage)
        self.alarms.for_functions(self.function_names)
        self.alarms.for_tables(self.tables)
        self.alarms.for_api(stage.stack_name, self.api_stage)
        self.alarms.for_stream_consumers(self.stream_consumers, self.function_names)
        self.alarms.for_queue_consumers(self.queue_consumers, self.function_names)
        self.dashboard = ServiceDashboard(
            self,
            "Dashboard",
            stage,
            api_name=stage.stack_name,
            api_stage=self.api_stage,
            function_names=self.function_names,
            stream_consumers=self.stream_consumers,
            queue_consumers=self.queue_consumers,
            tables=self.tables,
        )
        self._outputs()

    def _data_key(self) -> kms.Key:
        key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{self.stage.stack_name}",
            description=f"{self.stage.stack_name}: tables, queues, logs, secrets, environment",
            enable_key_rotation=True,
            pending_window=Duration.days(30 if self.stage.protect_data else 7),
            removal_policy=self.stage.removal_policy,
        )
        # CloudWatch Logs encrypts the function and access log groups with it.
        key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com"))
        return key

    def _audit_chain_key(self) -> kms.Key:
        """The audit chain's signing key (docs/security.md, "Audit trail"). Its policy lets
        the account administer it and verify with it, never sign: `kms:Sign` is granted
        by the key policy to the chain's function roles alone (_allow_chain_key_use)."""
        administer = iam.PolicyStatement(
            sid="AdministerWithoutSigning",
            principals=[iam.AccountRootPrincipal()],
            actions=[
                "kms:Create*",
                "kms:Describe*",
                "kms:Enable*",
                "kms:List*",
                "kms:Put*",
                "kms:Update*",
                "kms:Revoke*",
                "kms:Disable*",
                "kms:Get*",
                "kms:Delete*",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:ScheduleKeyDeletion",
                "kms:CancelKeyDeletion",
                "kms:Verify",
            ],
            resources=["*"],
        )
        return kms.Key(
            self,
            "AuditChainKey",
            alias=f"alias/{self.stage.stack_name}-audit-chain",
            description=f"{self.stage.stack_name}: signs the audit trail's digests",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            pending_window=Duration.days(30),
            removal_policy=self.stage.removal_policy,
            policy=iam.PolicyDocument(statements=[administer]),
        )

    def _allow_chain_key_use(self, function_access: Mapping[str, FunctionAccess]) -> None:
        """The key policy's grants to the function roles: what each role's policy holds."""
        for use in ChainKeyUse:
            roles = [
                self.roles[logical_id]
                for logical_id in sorted(self.app.functions)
                if function_access[logical_id].audit_chain_key is use
            ]
            if roles:
                self.audit_chain_key.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid=f"ChainFunctions{use.value.capitalize()}",
                        principals=[iam.ArnPrincipal(role.role_arn) for role in roles],
                        actions=list(CHAIN_KEY_ACTIONS[use]),
                        resources=["*"],
                    )
                )

    def _generated_secret(
        self, construct_id: str, name: str, length: int, what: str
    ) -> secretsmanager.Secret:
        return secretsmanager.Secret(
            self,
            construct_id,
            secret_name=self.stage.secret_name(name),
            description=f"{self.stage.stack_name}: {what} (generated at first deploy)",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=length, exclude_punctuation=True
            ),
            removal_policy=self.stage.removal_policy,
        )

    def _chalice_stage_config(self) -> dict[str, Any]:
        """Values passed to `chalice package` over .chalice/config.json's stage."""
        environment = {
            spec.environment_variable: self.tables[spec.logical_name].table_name
            for spec in ALL_TABLES
        }
        # Resolved by CloudFormation at deploy time (a dynamic reference): the template
        # never holds the value; the function's environment does, encrypted with the key.
        environment["CURSOR_SECRET"] = self.cursor_secret.secret_value.unsafe_unwrap()
        environment["AUTH_CACHE_SECONDS"] = str(self.stage.auth_cache_seconds)
        environment["AUDIT_SIGNING_KEY_ID"] = self.audit_chain_key.key_arn
        environment["IMPORTS_BUCKET"] = self.imports_bucket.bucket_name
        # Names, not ids: a reference to the usage plans from the function would close a
        # cycle (usage plan → API stage → API → function). The function looks the ids up.
        environment["GATEWAY_USAGE_PLANS"] = json.dumps(
            {plan.value: usage_plan_name(self.stage, plan.value) for plan in PLAN_LIMITS},
            sort_keys=True,
        )
        return {
            "environment_variables": environment,
            "manage_iam_role": False,
            # Every function gets its own role below; this one only satisfies Chalice.
            "iam_role_arn": "arn:aws:iam::000000000000:role/replaced-by-infra",
            "lambda_memory_size": self.stage.lambda_memory_mb,
            "xray": True,
            "api_gateway_endpoint_type": "REGIONAL",
        }

    def _configure_function(
        self, logical_id: str, access: FunctionAccess, gateway_keys: GatewayKeys
    ) -> iam.Role:
        function_name = self.function_names[logical_id]
        log_group = logs.LogGroup(
            self,
            f"{logical_id}Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=self.stage.log_retention,
            encryption_key=self.key,
            removal_policy=self.stage.removal_policy,
        )
        role = function_role(
            self, access, self.tables, self.key, log_group, gateway_keys, self.audit_chain_key
        )
        function = self.app.construct.get_resource(logical_id)
        function.add_property_override("FunctionName", function_name)
        function.add_property_override("Role", role.role_arn)
        function.add_property_override("KmsKeyArn", self.key.key_arn)
        function.add_property_override("Runtime", LAMBDA_RUNTIME)
        timeout = (
            self.stage.api_timeout_seconds
            if logical_id in SYNCHRONOUS_FUNCTIONS
            else self.stage.job_timeout_seconds
        )
        function.add_property_override("Timeout", timeout)
        if logical_id == AUTHORIZER_FUNCTION:
            function.add_property_override(
                "Environment.Variables.AUTH_CACHE_SECONDS", str(AUTHORIZER_CACHE_SECONDS)
            )
        skip_checkov(function, FUNCTION_CHECKS)
        function.node.add_dependency(log_group)
        return role

    def _api_gateway_stage(self, source_dir: Path) -> str:
        """The API Gateway stage Chalice deploys to (stage setting, else global, else "api")."""
        config = json.loads((source_dir / ".chalice" / "config.json").read_text())
        stage_config = config.get("stages", {}).get(self.stage.name, {})
        return str(stage_config.get("api_gateway_stage", config.get("api_gateway_stage", "api")))

    def _outputs(self) -> None:
        for logical_name, table in self.tables.items():
            CfnOutput(self, f"{logical_name}TableName", value=table.table_name)
        CfnOutput(self, "EventBusName", value=self.event_bus.event_bus_name)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
        CfnOutput(self, "CursorSecretArn", value=self.cursor_secret.secret_arn)
        CfnOutput(self, "AuditChainKeyArn", value=self.audit_chain_key.key_arn)
        CfnOutput(self, "PlatformAdminKeySecretName", value=self.admin_key_secret.secret_name)
        CfnOutput(self, "AccessLogGroup", value=self.access_logs.log_group_name)
