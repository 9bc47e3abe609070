"""Identifiers: prefixed, time-sortable (ULID layout: 48-bit milliseconds, 80 random bits)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid(now_ms: int | None = None) -> str:
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


CUSTOMER_ID_PATTERN = re.compile(r"^cus_[0-9A-HJKMNP-TV-Z]{26}$")
TENANT_ID_PATTERN = re.compile(r"^ten_[0-9A-HJKMNP-TV-Z]{26}$")
API_KEY_ID_PATTERN = re.compile(r"^key_[0-9A-HJKMNP-TV-Z]{26}$")
TICKET_ID_PATTERN = re.compile(r"^tkt_[0-9A-HJKMNP-TV-Z]{26}$")
MERGE_ID_PATTERN = re.compile(r"^mrg_[0-9A-HJKMNP-TV-Z]{26}$")


def new_customer_id() -> str:
    return f"cus_{_ulid()}"


def new_merge_id() -> str:
    return f"mrg_{_ulid()}"


def new_tenant_id() -> str:
    return f"ten_{_ulid()}"


def new_api_key_id() -> str:
    return f"key_{_ulid()}"


def is_customer_id(value: str) -> bool:
    return bool(CUSTOMER_ID_PATTERN.match(value))


INTERACTION_ID_PATTERN = re.compile(r"^int_[0-9A-HJKMNP-TV-Z]{26}$")


def new_interaction_id() -> str:
    return f"int_{_ulid()}"


def new_ticket_id() -> str:
    return f"tkt_{_ulid()}"


def new_comment_id() -> str:
    return f"cmt_{_ulid()}"


def is_ticket_id(value: str) -> bool:
    return bool(TICKET_ID_PATTERN.match(value))


def is_merge_id(value: str) -> bool:
    return bool(MERGE_ID_PATTERN.match(value))


def new_segment_id() -> str:
    return f"seg_{_ulid()}"


CAMPAIGN_ID_PATTERN = re.compile(r"^cmp_[0-9A-HJKMNP-TV-Z]{26}$")


def new_campaign_id() -> str:
    return f"cmp_{_ulid()}"


def new_event_id() -> str:
    return f"evt_{_ulid()}"


def new_audit_entry_id() -> str:
    return f"aud_{_ulid()}"


REWARD_ID_PATTERN = re.compile(r"^rwd_[0-9A-HJKMNP-TV-Z]{26}$")


def new_reward_id() -> str:
    return f"rwd_{_ulid()}"


def is_reward_id(value: str) -> bool:
    return bool(REWARD_ID_PATTERN.match(value))


def new_reward_redemption_id() -> str:
    return f"rdm_{_ulid()}"


OFFER_ID_PATTERN = re.compile(r"^off_[0-9A-HJKMNP-TV-Z]{26}$")


def new_offer_id() -> str:
    return f"off_{_ulid()}"


def is_offer_id(value: str) -> bool:
    return bool(OFFER_ID_PATTERN.match(value))


def derived_id(prefix: str, seed: str) -> str:
    """An id that always follows from `seed` (for writes that must be idempotent), in the
    same alphabet and length as the time-sortable ones."""
    value = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:17], "big")
    chars = [_CROCKFORD[(value >> (5 * i)) & 31] for i in range(26)]
    return f"{prefix}_{''.join(reversed(chars))}"


IMPORT_ID_PATTERN = re.compile(r"^imp_[0-9A-HJKMNP-TV-Z]{26}$")


def new_import_id() -> str:
    return f"imp_{_ulid()}"


def is_import_id(value: str) -> bool:
    return bool(IMPORT_ID_PATTERN.match(value))
