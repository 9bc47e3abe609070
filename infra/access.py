"""What each function may do to which table: the least-privilege declarations.

Each Lambda function of the Chalice app gets its own role whose policy names only the tables,
indexes and item-level actions listed here. A function in the app without an entry stops the
synthesis, so a new handler cannot ship with borrowed or wildcard permissions. The actions
are the DynamoDB API calls the function's code path makes (see docs/data-model.md for the
access patterns); TransactWriteItems is authorised per item as PutItem, DeleteItem, UpdateItem
or ConditionCheckItem, so it has no action of its own here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from chalicelib.dal.schema import (
    AUDIT_TABLE,
    CONTROL_TABLE,
    DATA_TABLE,
    IDEMPOTENCY_TABLE,
    TableSpec,
)

READ_ACTIONS = frozenset(
    {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"}
)
WRITE_ACTIONS = frozenset(
    {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
)
ITEM_ACTIONS = READ_ACTIONS | WRITE_ACTIONS
INDEX_ACTIONS = frozenset({"dynamodb:Query"})

# Every key of tenant data (table and gsi1 partition keys) starts with "T#{tenant_id}#":
# chalicelib/dal/keys.py builds them, and tests/infra checks the pattern against it.
TENANT_DATA_KEYS = "T#*"


@dataclass(frozen=True)
class IndexAccess:
    actions: tuple[str, ...] = ("dynamodb:Query",)
    leading_keys: tuple[str, ...] = ()
    """`dynamodb:LeadingKeys` patterns for the index's partition key values."""


@dataclass(frozen=True)
class TableAccess:
    table: TableSpec
    actions: tuple[str, ...]
    indexes: Mapping[str, IndexAccess] = field(default_factory=dict)
    leading_keys: tuple[str, ...] = ()
    """`dynamodb:LeadingKeys` patterns every partition key the function uses must match."""

    def __post_init__(self) -> None:
        unknown = set(self.actions) - ITEM_ACTIONS
        for index_name, index in self.indexes.items():
            if index_name not in {spec.name for spec in self.table.indexes}:
                raise ValueError(f"{self.table.logical_name} has no index {index_name!r}")
            unknown |= set(index.actions) - INDEX_ACTIONS
        if unknown:
            raise ValueError(f"not an item-level DynamoDB action: {sorted(unknown)}")

    @property
    def writes(self) -> bool:
        return bool(set(self.actions) & WRITE_ACTIONS)


class ChainKeyUse(StrEnum):
    """What a function may do with the audit chain's KMS key (docs/security.md)."""

    SIGN = "sign"  # kms:Sign (and Verify, GetPublicKey): the chain's functions only
    VERIFY = "verify"  # kms:Verify and kms:GetPublicKey


@dataclass(frozen=True)
class FunctionAccess:
    """The data access of one function, named by its logical id in Chalice's template."""

    function: str
    tables: tuple[TableAccess, ...]
    manages_gateway_keys: bool = False
    """Creates, moves and deletes tenants' API Gateway keys (infra/roles.py scopes it to
    this stage's usage plans and keys)."""
    audit_chain_key: ChainKeyUse | None = None


# by_tenant index partitions are "{tenant_id}#{shard}" (tenant ids are "ten_…").
TENANT_SHARD_KEYS = "ten_*#*"
# A tenant's audit entries partition, "T#{tenant_id}#AUDIT" (not its digests, mentions or
# alert windows): the only audit partition the request path and the change recorder write.
AUDIT_ENTRY_KEYS = "T#*#AUDIT"
# A tenant's digests and chain head, "T#{tenant_id}#AUDIT#DIGESTS".
AUDIT_DIGEST_KEYS = "T#*#AUDIT#DIGESTS"

# Powertools Idempotency: the in-progress record (conditional put), its completion (update),
# the stored result of a repeat (get), and its removal when the work fails.
_RUNS_ONCE = TableAccess(
    IDEMPOTENCY_TABLE,
    actions=(
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ),
)

API_HANDLER = FunctionAccess(
    function="APIHandler",
    # Tenant onboarding, plan changes and offboarding move the tenant's API Gateway key.
    manages_gateway_keys=True,
    # Verification checks digests' signatures; it cannot sign.
    audit_chain_key=ChainKeyUse.VERIFY,
    tables=(
        # Authentication reads the API key (by key hash) and its tenant; the admin plane and
        # key self-service put, update and list tenants (gsi1 by creation, gsi2 by status),
        # their keys (gsi1 by owner), settings and daily usage (queried by tenant).
        TableAccess(
            CONTROL_TABLE,
            actions=(
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
                # key creation and rotation check the tenant's key count in their transaction
                "dynamodb:ConditionCheckItem",
            ),
            indexes={"gsi1": IndexAccess(), "gsi2": IndexAccess()},
        ),
        # Customers: get, look-ups (unique claims, tag listings, batch-get of profiles), the
        # newest-first list on gsi1, and transactions of puts, deletes and counter updates.
        # Tickets: get, their comments and customer copies (table queries), listings by
        # status, events (gsi1), by status and priority, public comments (gsi3), due and
        # by assignee (gsi4). Interactions and points: the customer partition (timeline,
        # ledger, account, order claims) and the timeline by type (gsi2). Customers'
        # rights: the export queries the customer partition and each ticket's comments;
        # the erasure updates items in transactions (no action or index beyond these).
        # Analytics: the counter shards (Query per shard, BatchGetItem of the gauges).
        # Feedback: the tenant-wide answer lists (gsi3, gsi4), survey answer claims in the
        # interaction's transaction, the NPS counters of a segment or campaign (Query).
        # Interaction batches write the items that move no points together (BatchWriteItem);
        # the erasure deletes the customer's campaign message events the same way. Failed
        # segment events are listed from gsi5.
        TableAccess(
            DATA_TABLE,
            actions=(
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
            ),
            indexes={
                index: IndexAccess(leading_keys=(TENANT_DATA_KEYS,))
                for index in ("gsi1", "gsi2", "gsi3", "gsi4", "gsi5")
            },
            leading_keys=(TENANT_DATA_KEYS,),
        ),
        # The audit trail: reading it newest first (table and its three indexes);
        # verification reads entries, digests and the chain's head.
        TableAccess(
            AUDIT_TABLE,
            actions=("dynamodb:GetItem", "dynamodb:Query"),
            indexes={
                index: IndexAccess(leading_keys=(TENANT_DATA_KEYS,))
                for index in ("by_customer", "by_actor", "by_action")
            },
            leading_keys=(TENANT_DATA_KEYS,),
        ),
        # One entry put per request, into the entries partition only (conditioned on
        # attribute_not_exists(pk) in the code; no update, delete or batch write here,
        # and no write to the digests and head: the API cannot rewrite the trail).
        TableAccess(AUDIT_TABLE, actions=("dynamodb:PutItem",), leading_keys=(AUDIT_ENTRY_KEYS,)),
        _RUNS_ONCE,
    ),
)

# API keys are stored under "APIKEY#{sha256 of the secret}" (chalicelib/dal/keys.py).
API_KEY_ITEMS = "APIKEY#*"

GATEWAY_AUTHORIZER = FunctionAccess(
    function="GatewayAuthorizer",
    tables=(
        # Reads the key item (it carries its tenant's status and plan) and records its use
        # (a conditional update at most once a minute); nothing but API key items.
        TableAccess(
            CONTROL_TABLE,
            actions=("dynamodb:GetItem", "dynamodb:UpdateItem"),
            leading_keys=(API_KEY_ITEMS,),
        ),
    ),
)

DAILY_LOYALTY = FunctionAccess(
    function="DailyLoyalty",
    tables=(
        # Lists the tenants (gsi1) and reads each one's configuration.
        TableAccess(
            CONTROL_TABLE,
            actions=("dynamodb:GetItem", "dynamodb:Query"),
            indexes={"gsi1": IndexAccess()},
        ),
        # The lots expiring today and the tier evaluations due today (gsi2); per customer:
        # the points account (get) and one transaction of puts and marker deletes.
        TableAccess(
            DATA_TABLE,
            actions=("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"),
            indexes={"gsi2": IndexAccess(leading_keys=(TENANT_DATA_KEYS,))},
            leading_keys=(TENANT_DATA_KEYS,),
        ),
    ),
)

# Reads a tenant's configuration (segment thresholds) from the control table.
_READS_TENANT_CONFIG = TableAccess(CONTROL_TABLE, actions=("dynamodb:GetItem",))
# Lists the tenants (gsi1) and reads their configuration, for the daily and back-fill jobs.
_LISTS_TENANTS = TableAccess(
    CONTROL_TABLE,
    actions=("dynamodb:GetItem", "dynamodb:Query"),
    indexes={"gsi1": IndexAccess(), "gsi2": IndexAccess()},
)


def _keeps_segments(*indexes: str, batch_reads: bool = False) -> TableAccess:
    """Reads a customer's partition (consistent Query) and its segment state, commits the
    state with membership and count changes (transactions of put, delete and update)
    and, in the same transactions, the customer's analytics contribution (put) and the
    counter shards (update), reads custom definitions; adds feedback answers to the NPS
    counters with their markers (transactions of put and update); `indexes` for the jobs'
    own look-ups; `batch_reads` adds BatchGetItem."""
    return TableAccess(
        DATA_TABLE,
        actions=(
            "dynamodb:GetItem",
            *(("dynamodb:BatchGetItem",) if batch_reads else ()),
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        ),
        indexes={index: IndexAccess(leading_keys=(TENANT_DATA_KEYS,)) for index in indexes},
        leading_keys=(TENANT_DATA_KEYS,),
    )


KEEP_CUSTOMERS_CURRENT = FunctionAccess(
    function="KeepCustomersCurrent",
    # Duplicate detection (issue 16) also batch-gets the profiles it compares; gsi2: the
    # campaigns a `segment.entered` event triggers (chalicelib/streams/campaigns.py).
    tables=(_READS_TENANT_CONFIG, _keeps_segments("gsi2", batch_reads=True)),
)
RUN_CAMPAIGNS = FunctionAccess(
    function="RunCampaigns",
    # The tenants and their configuration; per tenant the due campaigns and the messages
    # deferred by quiet hours (gsi1: to send them, and whether a run still has one), the
    # segment's membership pages (queued to campaign-sends: infra/queues.py), the
    # campaign's cursor (put) and its run's settled pages (get). It sends itself what it
    # does not queue: the deferred messages and a `points_expiring` sweep (the lot-expiry
    # index, gsi2, and the accounts), a page of profiles (batch), the offer (get) and one
    # transaction per recipient (message and coupon puts, cap window update, outbox event
    # put).
    tables=(
        _LISTS_TENANTS,
        TableAccess(
            DATA_TABLE,
            actions=(
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ),
            indexes={
                index: IndexAccess(leading_keys=(TENANT_DATA_KEYS,)) for index in ("gsi1", "gsi2")
            },
            leading_keys=(TENANT_DATA_KEYS,),
        ),
    ),
)
SEND_CAMPAIGN_PAGES = FunctionAccess(
    function="SendCampaignPages",
    tables=(
        # The tenant's configuration (campaigns, webhook).
        _READS_TENANT_CONFIG,
        # The campaign (get), a page of profiles (batch), one transaction per recipient
        # (message put, cap window update, outbox event put; within quiet hours the
        # deferred message put alone) and one per page (marker put, run counter update).
        # Its queue access: infra/queues.py.
        TableAccess(
            DATA_TABLE,
            actions=(
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem",
            ),
            leading_keys=(TENANT_DATA_KEYS,),
        ),
    ),
)
DAILY_SEGMENTS = FunctionAccess(
    function="DailySegments",
    tables=(_LISTS_TENANTS, _keeps_segments("gsi5")),
)
SEGMENT_BACKFILLS = FunctionAccess(
    function="SegmentBackfills",
    tables=(_LISTS_TENANTS, _keeps_segments("gsi1")),
)

PURGE_DELETED_TENANTS = FunctionAccess(
    function="PurgeDeletedTenants",
    tables=(
        # Finds deleted tenants (gsi2 by status), saves purge progress on the tenant record,
        # and finally deletes the tenant's keys (gsi1 by owner), usage and settings.
        TableAccess(
            CONTROL_TABLE,
            actions=(
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:DeleteItem",
            ),
            indexes={"gsi1": IndexAccess(), "gsi2": IndexAccess()},
        ),
        # Pages through the tenant's by_tenant shards and batch-deletes what they list.
        TableAccess(
            DATA_TABLE,
            actions=("dynamodb:BatchWriteItem",),
            indexes={"by_tenant": IndexAccess(leading_keys=(TENANT_SHARD_KEYS,))},
            leading_keys=(TENANT_DATA_KEYS,),
        ),
    ),
)

RECORD_DATA_CHANGES = FunctionAccess(
    function="RecordDataChanges",
    tables=(
        # The tenant's plan (its audit retention).
        TableAccess(CONTROL_TABLE, actions=("dynamodb:GetItem",)),
        # One conditional put per change of audited data, into the entries partition.
        TableAccess(AUDIT_TABLE, actions=("dynamodb:PutItem",), leading_keys=(AUDIT_ENTRY_KEYS,)),
    ),
)

CHAIN_AUDIT_TRAIL = FunctionAccess(
    function="ChainAuditTrail",
    tables=(
        # The tenant's configuration (alert thresholds).
        _READS_TENANT_CONFIG,
        # The chain's head (get), a digest with the head (transaction of puts), mentions
        # (batch write), alert windows (update) and alert entries (put).
        TableAccess(
            AUDIT_TABLE,
            actions=(
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
            ),
            leading_keys=(TENANT_DATA_KEYS,),
        ),
        # An alert's event, queued by the data stream's consumer like segment events.
        TableAccess(DATA_TABLE, actions=("dynamodb:PutItem",), leading_keys=(TENANT_DATA_KEYS,)),
    ),
    # Signs each digest it appends.
    audit_chain_key=ChainKeyUse.SIGN,
)

AUDIT_HEARTBEATS = FunctionAccess(
    function="AuditHeartbeats",
    tables=(
        # The schedule only lists the tenants (gsi1, a page per Query) and queues them, a
        # page a message, to audit-heartbeats (infra/queues.py): no audit table access and
        # no chain key.
        TableAccess(CONTROL_TABLE, actions=("dynamodb:Query",), indexes={"gsi1": IndexAccess()}),
    ),
)

APPEND_AUDIT_HEARTBEATS = FunctionAccess(
    function="AppendAuditHeartbeats",
    tables=(
        # Each tenant of its page (get: deleted or not, its plan, hence its retention).
        TableAccess(CONTROL_TABLE, actions=("dynamodb:GetItem",)),
        # Each tenant's chain head (get) and a digest with the head (transaction of puts):
        # nothing outside the digests partition. Its queue access: infra/queues.py.
        TableAccess(
            AUDIT_TABLE,
            actions=("dynamodb:GetItem", "dynamodb:PutItem"),
            leading_keys=(AUDIT_DIGEST_KEYS,),
        ),
    ),
    # Signs each digest it appends.
    audit_chain_key=ChainKeyUse.SIGN,
)

DELIVER_WEBHOOKS = FunctionAccess(
    function="DeliverWebhooks",
    tables=(
        # The tenant's configuration (webhook URL and secret).
        _READS_TENANT_CONFIG,
        # The event (get) and its outcome (put). Its queue access: infra/queues.py.
        TableAccess(
            DATA_TABLE,
            actions=("dynamodb:GetItem", "dynamodb:PutItem"),
            leading_keys=(TENANT_DATA_KEYS,),
        ),
    ),
)

RECORD_UNDELIVERED_WEBHOOKS = FunctionAccess(
    function="RecordUndeliveredWebhooks",
    tables=(
        # The dead-lettered event (get) and its failure (put).
        TableAccess(
            DATA_TABLE,
            actions=("dynamodb:GetItem", "dynamodb:PutItem"),
            leading_keys=(TENANT_DATA_KEYS,),
        ),
    ),
)

PROCESS_IMPORTS = FunctionAccess(
    function="ProcessImports",
    tables=(
        # The tenant (its status and plan) and its configuration (imports.default_country).
        _READS_TENANT_CONFIG,
        # The import (get, checkpoint update), its failed rows (batch write), and customers
        # upserted as the API writes them: unique claims and profiles (get, batch get), and
        # transactions of puts, deletes, counter updates and condition checks; interactions
        # recorded as a batch (profiles and accounts batch get, the multiplier offers
        # queried on gsi3). Its file access (read, delete under imports/): infra/imports_bucket.py.
        TableAccess(
            DATA_TABLE,
            actions=(
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:BatchWriteItem",
            ),
            indexes={"gsi3": IndexAccess(leading_keys=(TENANT_DATA_KEYS,))},
            leading_keys=(TENANT_DATA_KEYS,),
        ),
        # An interaction chunk is recorded as a batch under the chunk's idempotency key.
        _RUNS_ONCE,
    ),
)

CONTINUE_MERGES = FunctionAccess(
    function="ContinueMerges",
    tables=(
        # The tenant's configuration (its loyalty tiers, for the merged account).
        _READS_TENANT_CONFIG,
        # A merge's steps (chalicelib/dal/merge.py): the record, markers and accounts (get),
        # the source's partition and the step logs (query, batch get), and transactions
        # of puts, deletes, updates (the moved tickets) and condition checks.
        TableAccess(
            DATA_TABLE,
            actions=(
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
            ),
            leading_keys=(TENANT_DATA_KEYS,),
        ),
    ),
)

# Queue name (chalicelib/queues_config.py) → the functions that may send to it; only the
# queue's consumer receives from it (infra/queues.py).
QUEUE_SENDERS: dict[str, tuple[str, ...]] = {
    "webhook-deliveries": (KEEP_CUSTOMERS_CURRENT.function,),
    # One message per import chunk, asked for by the data stream (docs/streams.md).
    "import-chunks": (KEEP_CUSTOMERS_CURRENT.function,),
    # A merge the request did not finish, then each continuation's next (issue 16).
    "merge-continuations": (API_HANDLER.function, CONTINUE_MERGES.function),
    # One message per membership page of a campaign run, queued by the campaign job.
    "campaign-sends": (RUN_CAMPAIGNS.function,),
    # One message per page of tenants, queued by the digest schedule every period.
    "audit-heartbeats": (AUDIT_HEARTBEATS.function,),
}

FUNCTION_ACCESS: dict[str, FunctionAccess] = {
    access.function: access
    for access in (
        API_HANDLER,
        GATEWAY_AUTHORIZER,
        PURGE_DELETED_TENANTS,
        KEEP_CUSTOMERS_CURRENT,
        DAILY_SEGMENTS,
        SEGMENT_BACKFILLS,
        RUN_CAMPAIGNS,
        DAILY_LOYALTY,
        RECORD_DATA_CHANGES,
        CHAIN_AUDIT_TRAIL,
        AUDIT_HEARTBEATS,
        APPEND_AUDIT_HEARTBEATS,
        DELIVER_WEBHOOKS,
        RECORD_UNDELIVERED_WEBHOOKS,
        PROCESS_IMPORTS,
        CONTINUE_MERGES,
        SEND_CAMPAIGN_PAGES,
    )
}
