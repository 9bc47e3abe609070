"""The customer token's format: what it carries, and that no change of it verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.customer_tokens import (
    CUSTOMER_TOKEN_PREFIX,
    CustomerTokenClaims,
    decode_token,
    encode_token,
)
from chalicelib.domain.errors import NotAuthenticated
from chalicelib.domain.tenancy import TenantId, hash_secret

KEY = b"k" * 32
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _claims(expires_at: datetime = NOW + timedelta(minutes=15)) -> CustomerTokenClaims:
    return CustomerTokenClaims(
        tenant=TenantId("ten_01J00000000000000000000000"),
        customer_id="cus_01J00000000000000000000001",
        key_id="key_01J00000000000000000000002",
        key_hash=hash_secret("crm_secret"),
        expires_at=expires_at,
    )


def test_a_token_carries_its_claims_and_fits_a_bearer_header() -> None:
    token = encode_token(_claims(), KEY)

    assert token.startswith(CUSTOMER_TOKEN_PREFIX) and len(token) <= 256
    assert decode_token(token, KEY, NOW) == _claims()


def test_a_token_expires_at_its_expiry() -> None:
    token = encode_token(_claims(), KEY)

    with pytest.raises(NotAuthenticated, match="expired"):
        decode_token(token, KEY, NOW + timedelta(minutes=15))


def test_no_single_character_change_of_a_token_verifies() -> None:
    token = encode_token(_claims(), KEY)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

    for position in range(len(CUSTOMER_TOKEN_PREFIX), len(token)):
        for replacement in {alphabet[(alphabet.index(token[position]) + 1) % len(alphabet)], ""}:
            changed = token[:position] + replacement + token[position + 1 :]
            if changed == token:
                continue
            try:
                claims = decode_token(changed, KEY, NOW)
            except NotAuthenticated:
                continue
            # base64 padding bits may change without changing the bytes they encode
            assert claims == _claims(), (position, replacement)


def test_a_token_signed_with_another_key_does_not_verify() -> None:
    with pytest.raises(NotAuthenticated, match="signature"):
        decode_token(encode_token(_claims(), b"x" * 32), KEY, NOW)
