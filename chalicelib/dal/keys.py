"""Key construction. Every key of tenant data starts with the tenant id; there is no
function here that builds one without a TenantId, and none that accepts a raw key."""

from __future__ import annotations

import zlib

from chalicelib.domain.customers import UniqueField
from chalicelib.domain.tenancy import TenantId

PROFILE_SK = "PROFILE"
ERASURE_SK = "ERASURE"  # sorts before INT#, outside PROFILE..SEGMENTS
UNIQUE_SK = "UNIQUE"


def _tenant_prefix(tenant: TenantId) -> str:
    if not tenant:
        raise ValueError("a tenant is required to build a key")
    return f"T#{tenant}"


TENANT_SHARDS = 16


def tenant_shard_of(pk: str) -> str:
    """The `by_tenant` index partition of a data item: its tenant and a hash shard of its pk,
    so one tenant's writes spread over TENANT_SHARDS index partitions."""
    prefix, tenant, _ = pk.split("#", 2)
    if prefix != "T" or not tenant:
        raise ValueError("data items are keyed by tenant")
    return tenant_shard_pk(TenantId(tenant), zlib.crc32(pk.encode()) % TENANT_SHARDS)


def tenant_shard_pk(tenant: TenantId, shard: int) -> str:
    return f"{tenant}#{shard:02d}"


def customer_pk(tenant: TenantId, customer_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#CUS#{customer_id}"


def customers_by_created_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#CUSTOMERS"


def created_sort_key(created_at_iso: str, customer_id: str) -> str:
    return f"{created_at_iso}#{customer_id}"


def unique_pk(tenant: TenantId, field: UniqueField, value: str) -> str:
    return f"{_tenant_prefix(tenant)}#{field.value.upper()}#{value}"


def tag_pk(tenant: TenantId, tag: str) -> str:
    return f"{_tenant_prefix(tenant)}#TAG#{tag}"


POINTS_SK = "POINTS"
ORDER_SK = "ORDER"


def interaction_sk(occurred_iso: str, interaction_id: str) -> str:
    return f"{INTERACTION_PREFIX}{occurred_iso}#{interaction_id}"


def interactions_by_type_pk(tenant: TenantId, customer_id: str, interaction_type: str) -> str:
    return f"{customer_pk(tenant, customer_id)}#INT#{interaction_type}"


def ledger_sk(account_version: int, position: int) -> str:
    return f"LEDGER#{account_version:012d}#{position:02d}"


def purchase_tally_sk(day_iso: str) -> str:
    """Sorts between `LEDGER#` and `LOT#`: outside the ranges a metrics refresh reads."""
    return f"LIMIT#APP_PURCHASES#{day_iso}"


def lot_sk(expires_on_iso: str) -> str:
    return f"LOT#{expires_on_iso}"


def lots_expiring_pk(tenant: TenantId, expires_on_iso: str) -> str:
    return f"{_tenant_prefix(tenant)}#EXPIRES#{expires_on_iso}"


def tier_evaluation_pk(tenant: TenantId, due_iso: str) -> str:
    return f"{_tenant_prefix(tenant)}#TIEREVAL#{due_iso}"


def order_pk(tenant: TenantId, order_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#ORDER#{order_id}"


def idempotency_scope(tenant: TenantId, operation: str) -> str:
    return f"{_tenant_prefix(tenant)}#{operation}"


# Rewards catalogue (issue 15). The catalogue is one partition per tenant; a customer's
# redemptions and per-reward counts sit in its partition under `LOYALTY#`, which sorts
# between `LOT#` and `POINTS`: outside the ranges a metrics refresh reads.

REWARD_PREFIX = "REWARD#"
REWARD_REDEMPTION_PREFIX = "LOYALTY#REDEMPTION#"


def rewards_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#REWARDS"


def reward_sk(reward_id: str) -> str:
    return f"{REWARD_PREFIX}{reward_id}"


def reward_redemption_sk(redemption_id: str) -> str:
    return f"{REWARD_REDEMPTION_PREFIX}{redemption_id}"


def reward_count_sk(reward_id: str) -> str:
    return f"LOYALTY#REWARDCOUNT#{reward_id}"


# Offers and coupons (issue 15). Offers are one partition per tenant, multiplier offers also
# listed on gsi3 by their end; a coupon is its own item keyed by its code (so a code is
# unique within the tenant), listed on gsi1 under its customer.

OFFER_PREFIX = "OFFER#"
COUPON_SK = "COUPON"


def offers_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#OFFERS"


def offer_sk(offer_id: str) -> str:
    return f"{OFFER_PREFIX}{offer_id}"


OFFER_OPEN_END = "9999-12-31T23:59:59.999999Z"
OFFERS_INDEXED_SK = "INDEXED"  # sorts before OFFER#: outside the offers' range
OFFERS_INDEXED_GSI_SK = "~INDEXED"  # after every `{end}#{id}`


def multiplier_offers_pk(tenant: TenantId) -> str:
    """gsi3: the tenant's multiplier offers by end (other offers are not listed)."""
    return f"{_tenant_prefix(tenant)}#OFFERS#MULTIPLIERS"


def offer_end_sk(end_iso: str | None, offer_id: str) -> str:
    """An offer's end (fixed-width UTC; open-ended: far future) and id."""
    return f"{end_iso or OFFER_OPEN_END}#{offer_id}"


def coupon_pk(tenant: TenantId, code: str) -> str:
    return f"{_tenant_prefix(tenant)}#COUPON#{code}"


def customer_coupons_pk(tenant: TenantId, customer_id: str) -> str:
    return f"{customer_pk(tenant, customer_id)}#COUPONS"


# Service tickets. The ticket and its comments share a partition; a full copy of the
# ticket and its events live in the customer's partition (the customer's item collection).

TICKET_SK = "TICKET"
TICKET_COMMENT_PREFIX = "COMMENT#"
CUSTOMER_TICKET_PREFIX = "TICKET#"
TICKET_EVENT_PREFIX = "TKTEV#"


def ticket_pk(tenant: TenantId, ticket_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#TKT#{ticket_id}"


def ticket_comment_sk(created_at_iso: str, comment_id: str) -> str:
    return f"{TICKET_COMMENT_PREFIX}{created_at_iso}#{comment_id}"


def customer_ticket_sk(created_at_iso: str, ticket_id: str) -> str:
    return f"{CUSTOMER_TICKET_PREFIX}{created_at_iso}#{ticket_id}"


def ticket_event_sk(at_iso: str, ticket_id: str, seq: int) -> str:
    return f"{TICKET_EVENT_PREFIX}{at_iso}#{ticket_id}#{seq:06d}"


def ticket_events_pk(tenant: TenantId, ticket_id: str) -> str:
    """gsi1: one ticket's events, in order."""
    return f"{_tenant_prefix(tenant)}#TKT#{ticket_id}#EVENTS"


def ticket_public_comments_pk(tenant: TenantId, ticket_id: str) -> str:
    """gsi3: one ticket's public comments (what app keys see), oldest first."""
    return f"{_tenant_prefix(tenant)}#TKT#{ticket_id}#PUBLIC"


def tickets_by_status_pk(tenant: TenantId, status: str) -> str:
    """gsi1: a tenant's tickets in one status, newest first."""
    return f"{_tenant_prefix(tenant)}#TICKETS#STATUS#{status}"


def tickets_by_status_priority_pk(tenant: TenantId, status: str, priority: str) -> str:
    """gsi3: a tenant's tickets in one status and priority, newest first."""
    return f"{_tenant_prefix(tenant)}#TICKETS#STATUS#{status}#PRIORITY#{priority}"


def tickets_due_pk(tenant: TenantId) -> str:
    """gsi4: a tenant's tickets whose SLA clock runs, by next due time."""
    return f"{_tenant_prefix(tenant)}#TICKETS#DUE"


def tickets_by_assignee_pk(tenant: TenantId, assignee: str) -> str:
    """gsi4 (on the customer-partition copy): one assignee's tickets, newest first."""
    return f"{_tenant_prefix(tenant)}#TICKETS#ASSIGNEE#{assignee}"


# Control plane (platform data: tenants and their keys).


def tenant_pk(tenant: TenantId) -> str:
    return f"TENANT#{tenant}"


TENANT_SK = "TENANT"
TENANT_CONFIG_SK = "CONFIG"
TENANTS_GSI_PK = "TENANTS"


def tenants_with_status_pk(status: str) -> str:
    return f"TENANTS#{status}"


def tenant_keys_pk(tenant: TenantId) -> str:
    return f"{tenant_pk(tenant)}#KEYS"


def usage_sk(day: str) -> str:
    return f"USAGE#{day}"


def customer_counter_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#COUNTERS"


CUSTOMER_COUNTER_SK = "CUSTOMERS"


def api_key_pk(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


API_KEY_SK = "APIKEY"


# Segments (issue 6).

SEGMENT_STATE_SK = "SEGMENTS"
SEGMENT_SHARDS = 16
SEGMENT_DUE_SHARDS = 4


def shard_of(customer_id: str, shards: int) -> int:
    return zlib.crc32(customer_id.encode()) % shards


def segment_definitions_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#SEGDEFS"


def segment_members_pk(tenant: TenantId, segment_id: str, shard: int) -> str:
    return f"{_tenant_prefix(tenant)}#SEG#{segment_id}#{shard:02d}"


def segment_counts_pk(tenant: TenantId, shard: int) -> str:
    return f"{_tenant_prefix(tenant)}#SEGCOUNT#{shard:02d}"


def segments_due_pk(tenant: TenantId, due_iso: str, shard: int) -> str:
    return f"{_tenant_prefix(tenant)}#SEGDUE#{due_iso}#{shard}"


def event_pk(tenant: TenantId, event_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#EVENT#{event_id}"


EVENT_SK = "EVENT"


def failed_events_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#EVENTS#FAILED"


AUDIT_HEAD_SK = "HEAD"


def audit_entries_pk(tenant: TenantId) -> str:
    """The tenant's trail, newest last (sk `E#{time}#{entry id}`)."""
    return f"{_tenant_prefix(tenant)}#AUDIT"


def audit_mention_pk(tenant: TenantId, customer_id: str) -> str:
    """Copies of entries that name several customers, one per customer (for by_customer)."""
    return f"{_tenant_prefix(tenant)}#AUDIT#M#{customer_id}"


def audit_digests_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#AUDIT#DIGESTS"


def audit_digest_sk(created_at_iso: str, sequence: int) -> str:
    return f"D#{created_at_iso}#{sequence:012d}"


def audit_window_pk(tenant: TenantId, actor: str) -> str:
    return f"{_tenant_prefix(tenant)}#AUDIT#W#{actor}"


def audit_customer_key(tenant: TenantId, customer_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#C#{customer_id}"


def audit_actor_key(tenant: TenantId, actor: str) -> str:
    return f"{_tenant_prefix(tenant)}#A#{actor}"


def audit_action_key(tenant: TenantId, action: str) -> str:
    return f"{_tenant_prefix(tenant)}#X#{action}"


# Analytics (issue 9): one contribution item per customer, in its partition, and the
# tenant's counters, sharded by a hash of the customer id.

CONTRIBUTION_SK = "ANALYTICS"
ANALYTICS_SHARDS = 16
ANALYTICS_GAUGE_SK = "GAUGE"


def analytics_pk(tenant: TenantId, shard: int) -> str:
    return f"{_tenant_prefix(tenant)}#ANALYTICS#{shard:02d}"


def analytics_day_sk(day_iso: str) -> str:
    return f"DAY#{day_iso}"


def analytics_cohort_sk(month: str) -> str:
    return f"COHORT#{month}"


# Duplicate detection (issue 16): match keys (blocking), each profile's match state, one
# item per candidate pair and each customer's listing of its pairs.

MATCH_STATE_SK = "STATE"
DUPLICATE_PAIR_SK = "PAIR"


def match_key_pk(tenant: TenantId, kind: str, digest: str) -> str:
    return f"{_tenant_prefix(tenant)}#MATCH#{kind}#{digest}"


def match_state_pk(tenant: TenantId, customer_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#MATCHES#{customer_id}"


def duplicate_pair_pk(tenant: TenantId, customer_a: str, customer_b: str) -> str:
    return f"{_tenant_prefix(tenant)}#DUP#{customer_a}#{customer_b}"


def duplicates_of_pk(tenant: TenantId, customer_id: str) -> str:
    """One customer's candidate pairs, highest score first."""
    return f"{_tenant_prefix(tenant)}#DUPS#{customer_id}"


def duplicates_pk(tenant: TenantId) -> str:
    """gsi3: the tenant's candidate pairs not dismissed, highest score first."""
    return f"{_tenant_prefix(tenant)}#DUPLICATES"


def duplicate_rank(score: int) -> str:
    """Sorts ascending as the score descends."""
    return f"{100 - score:03d}"


# One timeline (issue 16): the sort-key prefixes of the timeline sources in the customer's
# partition (ticket events: TICKET_EVENT_PREFIX above).

INTERACTION_PREFIX = "INT#"
# Campaigns (issue 15). Campaign items share the tenant's campaigns partition; messages,
# cap counters and conversion markers live in the recipient's partition between `LOT#` and
# `POINTS`, outside the ranges a metrics refresh reads.

CAMPAIGN_STATS_SHARDS = 16
CAMPAIGN_STATS_SK = "STATS"
CAMPAIGN_MESSAGE_PREFIX = "MSG#"
CAMPAIGN_CAP_PREFIX = "MSGCAP#"
CAMPAIGN_CONVERSION_PREFIX = "MSGCONV#"


def campaigns_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#CAMPAIGNS"


def campaigns_due_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#CAMPAIGNS#DUE"


def campaigns_on_entry_pk(tenant: TenantId, segment_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#CAMPAIGNS#ENTERED#{segment_id}"


def campaigns_on_trigger_pk(tenant: TenantId, trigger: str) -> str:
    return f"{_tenant_prefix(tenant)}#CAMPAIGNS#TRIGGER#{trigger}"


def campaign_messages_deferred_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#CAMPAIGNS#DEFERRED"


def campaign_stats_pk(tenant: TenantId, campaign_id: str, shard: int) -> str:
    return f"{_tenant_prefix(tenant)}#CMPSTATS#{campaign_id}#{shard:02d}"


def campaign_message_sk(run_at_iso: str, campaign_id: str) -> str:
    return f"{CAMPAIGN_MESSAGE_PREFIX}{run_at_iso}#{campaign_id}"


def campaign_run_pk(tenant: TenantId, campaign_id: str) -> str:
    """A campaign's runs: per run the pages settled, and a marker per page."""
    return f"{_tenant_prefix(tenant)}#CMPRUN#{campaign_id}"


def campaign_run_sk(run_at_iso: str) -> str:
    return f"RUN#{run_at_iso}"


def campaign_page_sk(run_at_iso: str, page: int) -> str:
    return f"RUN#{run_at_iso}#PAGE#{page:06d}"


def campaign_cap_sk(window_start_iso: str) -> str:
    return f"{CAMPAIGN_CAP_PREFIX}{window_start_iso}"


def campaign_conversion_sk(campaign_id: str, interaction_id: str | None = None) -> str:
    """A campaign's converter marker (`MSGCONV#{campaign}`) or one purchase's
    (`MSGCONV#{campaign}#{interaction}`)."""
    suffix = f"#{interaction_id}" if interaction_id else ""
    return f"{CAMPAIGN_CONVERSION_PREFIX}{campaign_id}{suffix}"


# Feedback and NPS (issue 15): feedback interactions listed tenant-wide on gsi3 (all) and
# gsi4 (one NPS category), a claim per answered campaign survey, and per-segment and
# per-campaign daily counters kept by the data stream consumer.

FEEDBACK_COUNTED_SK = "COUNTED"


def feedback_pk(tenant: TenantId) -> str:
    """gsi3: a tenant's feedback interactions, newest first."""
    return f"{_tenant_prefix(tenant)}#FEEDBACK"


def feedback_by_category_pk(tenant: TenantId, category: str) -> str:
    """gsi4: a tenant's feedback interactions of one NPS category, newest first."""
    return f"{_tenant_prefix(tenant)}#FEEDBACK#{category}"


def survey_answer_pk(tenant: TenantId, campaign_id: str, customer_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#SURVEY#{campaign_id}#CUS#{customer_id}"


SURVEY_ANSWER_SK = "ANSWER"


def feedback_counted_pk(tenant: TenantId, interaction_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#FEEDBACK#COUNTED#{interaction_id}"


def nps_segment_pk(tenant: TenantId, segment_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#NPS#SEG#{segment_id}"


def nps_campaign_pk(tenant: TenantId, campaign_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#NPS#CMP#{campaign_id}"


# Bulk imports (issue 16): one partition of the tenant's imports (ids sort by creation
# time) and one partition of failed rows per import, by line number.

IMPORT_ERROR_LINE_DIGITS = 12


def imports_pk(tenant: TenantId) -> str:
    return f"{_tenant_prefix(tenant)}#IMPORTS"


def import_sk(import_id: str) -> str:
    return f"IMP#{import_id}"


def import_errors_pk(tenant: TenantId, import_id: str) -> str:
    return f"{_tenant_prefix(tenant)}#IMPORT#{import_id}#ERRORS"


def import_error_sk(line: int) -> str:
    return f"L#{line:0{IMPORT_ERROR_LINE_DIGITS}d}"


# Customer merge (issue 16): the record and its step log in the survivor's partition, a
# marker in each merged source's partition.

MERGED_SK = "MERGED"


def merge_sk(merge_id: str) -> str:
    return f"MERGE#{merge_id}"


def merge_step_sk(merge_id: str, source_id: str, step: int) -> str:
    return f"{merge_step_prefix(merge_id, source_id)}{step:06d}"


def merged_ledger_sk(original_sk: str, source_id: str) -> str:
    """A source's ledger entry at the survivor: after the entry of the same account version
    of the survivor's own (the two ledgers' sort keys would collide)."""
    return f"{original_sk}#{source_id}"


def merge_step_prefix(merge_id: str, source_id: str) -> str:
    return f"MERGE#{merge_id}#STEP#{source_id}#"
