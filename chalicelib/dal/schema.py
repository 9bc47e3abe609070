"""Table definitions: the one description from which local tables, test tables and the
deployed tables (infra/) are all made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str
    projection: str = "ALL"  # or "KEYS_ONLY"


@dataclass(frozen=True)
class TableSpec:
    logical_name: str
    environment_variable: str
    partition_key: str
    sort_key: str | None
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str
    description: str

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        """Arguments for boto3's `create_table`, streams on, billed per request."""
        key_names = [self.partition_key, *([self.sort_key] if self.sort_key else [])]
        for index in self.indexes:
            key_names += [index.partition_key, index.sort_key]
        request: dict[str, Any] = {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": "S"} for name in dict.fromkeys(key_names)
            ],
            "KeySchema": [
                {"AttributeName": self.partition_key, "KeyType": "HASH"},
                *([{"AttributeName": self.sort_key, "KeyType": "RANGE"}] if self.sort_key else []),
            ],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": index.projection},
                }
                for index in self.indexes
            ]
        return request


CONTROL_TABLE = TableSpec(
    logical_name="Control",
    environment_variable="CONTROL_TABLE",
    partition_key="pk",
    sort_key="sk",
    indexes=(IndexSpec("gsi1", "gsi1pk", "gsi1sk"), IndexSpec("gsi2", "gsi2pk", "gsi2sk")),
    ttl_attribute="ttl",
    description="Control plane: tenants and API keys (keyed by tenant id or key hash).",
)

DATA_TABLE = TableSpec(
    logical_name="Data",
    environment_variable="DATA_TABLE",
    partition_key="pk",
    sort_key="sk",
    indexes=(
        IndexSpec("gsi1", "gsi1pk", "gsi1sk"),
        IndexSpec("gsi2", "gsi2pk", "gsi2sk"),
        IndexSpec("gsi5", "gsi5pk", "gsi5sk"),
        IndexSpec("by_tenant", "tenant_shard", "tenant_item", projection="KEYS_ONLY"),
        IndexSpec("gsi3", "gsi3pk", "gsi3sk"),
        IndexSpec("gsi4", "gsi4pk", "gsi4sk"),
    ),
    ttl_attribute="ttl",
    description="Tenant data (pooled): every key begins with the tenant id.",
)

IDEMPOTENCY_TABLE = TableSpec(
    logical_name="Idempotency",
    environment_variable="IDEMPOTENCY_TABLE",
    partition_key="id",
    sort_key=None,
    indexes=(),
    ttl_attribute="expiration",
    description="Powertools Idempotency records; every key includes the tenant id (hashed).",
)

AUDIT_TABLE = TableSpec(
    logical_name="Audit",
    environment_variable="AUDIT_TABLE",
    partition_key="pk",
    sort_key="sk",
    indexes=(
        IndexSpec("by_customer", "customer_key", "sk"),
        IndexSpec("by_actor", "actor_key", "sk"),
        IndexSpec("by_action", "action_key", "sk"),
    ),
    ttl_attribute="expires_at",
    description="The audit trail: entries, their digests (the chain) and alert windows. "
    "The API may only add entries to it (docs/security.md).",
)

ALL_TABLES: tuple[TableSpec, ...] = (CONTROL_TABLE, DATA_TABLE, IDEMPOTENCY_TABLE, AUDIT_TABLE)
