"""The audit chain's keys (docs/security.md, "Audit trail").

Digests are signed with an asymmetric key that only the chain's functions may use:
deployed, a KMS key (ECC_NIST_P256, SIGN_VERIFY; `kms:Sign` for the chain's roles only,
`kms:Verify` for the API); locally, a P-256 private key in a file that only the chain's
code path loads, its public key beside it for verification. Both sign the SHA-256 of a
digest's canonical form with ECDSA (DER, hex), so either verifies the other's signatures.
Digests from before the chain key carry the legacy HMAC, still verified.

`cryptography` is needed for the local key file only (it ships with the dev tools); the
deployed path uses KMS through boto3.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.domain.audit import (
    DigestSigner,
    DigestVerifier,
    HmacKey,
    SignatureScheme,
)
from chalicelib.settings import SettingsError, get_settings

_KMS_ALGORITHM = "ECDSA_SHA_256"
LOCAL_KEY_FILE = Path(".local") / "audit-signing-key.pem"
_KEY_FILE_CREATION = threading.Lock()


def legacy_hmac_key() -> HmacKey:
    """The HMAC key of digests signed before the chain key, derived from the service
    secret (which the API functions hold: such digests are not anchored)."""
    return HmacKey(get_settings().derived_key("audit digest key"))


@dataclass(frozen=True)
class KmsChainKey:
    """Signs and verifies through KMS; the caller's role decides which it may do."""

    key_id: str
    region: str
    scheme: SignatureScheme = SignatureScheme.ECDSA_P256_SHA256

    def sign(self, message: bytes) -> str:
        answer = _kms(self.region).sign(
            KeyId=self.key_id,
            Message=hashlib.sha256(message).digest(),
            MessageType="DIGEST",
            SigningAlgorithm=_KMS_ALGORITHM,
        )
        return bytes(answer["Signature"]).hex()

    def verify(self, scheme: SignatureScheme, message: bytes, signature: str) -> bool:
        if scheme is not self.scheme:
            return False
        client = _kms(self.region)
        try:
            answer = client.verify(
                KeyId=self.key_id,
                Message=hashlib.sha256(message).digest(),
                MessageType="DIGEST",
                Signature=bytes.fromhex(signature),
                SigningAlgorithm=_KMS_ALGORITHM,
            )
        except ValueError:
            return False
        except client.exceptions.KMSInvalidSignatureException:
            return False
        return bool(answer["SignatureValid"])


@lru_cache(maxsize=4)
def _kms(region: str) -> Any:
    import boto3

    return boto3.client("kms", region_name=region)


@dataclass(frozen=True)
class FileChainSigner:
    """The local chain key: a P-256 private key in `path`, made on first use (mode 600),
    with its public key written to `<path>.pub`."""

    path: Path
    scheme: SignatureScheme = SignatureScheme.ECDSA_P256_SHA256

    def sign(self, message: bytes) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, utils

        key = _private_key(self.path)
        prehashed = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
        return bytes(key.sign(hashlib.sha256(message).digest(), prehashed)).hex()


@dataclass(frozen=True)
class FilePublicKey:
    """Verifies the local chain key's signatures with its public key alone."""

    path: Path
    scheme: SignatureScheme = SignatureScheme.ECDSA_P256_SHA256

    def verify(self, scheme: SignatureScheme, message: bytes, signature: str) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, utils

        if scheme is not self.scheme or not self.path.exists():
            return False
        public = _public_key(self.path, self.path.stat().st_mtime_ns)
        if public is None:
            return False
        prehashed = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
        try:
            public.verify(bytes.fromhex(signature), hashlib.sha256(message).digest(), prehashed)
        except (InvalidSignature, ValueError):
            return False
        return True


@lru_cache(maxsize=4)
def _public_key(path: Path, modified_ns: int) -> Any:
    """The P-256 public key in `path` (cached per version of the file), or None when the
    file holds none."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        public = load_pem_public_key(path.read_bytes())
    except ValueError:
        return None
    return public if isinstance(public, ec.EllipticCurvePublicKey) else None


def _private_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization

    with _KEY_FILE_CREATION:
        if not path.exists():
            _create_key_file(path)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _create_key_file(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _public_key_path(path).write_bytes(public)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)


def _public_key_path(private_key: Path) -> Path:
    return private_key.with_name(private_key.name + ".pub")


@dataclass(frozen=True)
class ChainVerifier:
    """Verifies every scheme a chain may hold: the chain key's and the legacy HMAC."""

    chain_key: DigestVerifier
    legacy: HmacKey

    def verify(self, scheme: SignatureScheme, message: bytes, signature: str) -> bool:
        if scheme is SignatureScheme.HMAC_SHA256:
            return self.legacy.verify(scheme, message, signature)
        return self.chain_key.verify(scheme, message, signature)


def _key_file() -> Path:
    settings = get_settings()
    if settings.audit_signing_key_file:
        return Path(settings.audit_signing_key_file)
    if settings.stage == "local":
        return LOCAL_KEY_FILE
    raise SettingsError("invalid or missing settings: AUDIT_SIGNING_KEY_ID")


def chain_signer() -> DigestSigner:
    """The chain key for signing: only the chain's functions call this."""
    settings = get_settings()
    if settings.audit_signing_key_id:
        return KmsChainKey(settings.audit_signing_key_id, settings.aws_region)
    return FileChainSigner(_key_file())


def chain_verifier() -> DigestVerifier:
    """Verifies digests without the power to sign with the chain key."""
    settings = get_settings()
    chain_key: DigestVerifier
    if settings.audit_signing_key_id:
        chain_key = KmsChainKey(settings.audit_signing_key_id, settings.aws_region)
    else:
        chain_key = FilePublicKey(_public_key_path(_key_file()))
    return ChainVerifier(chain_key, legacy_hmac_key())
