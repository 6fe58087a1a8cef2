"""Signed outcome reports: Ed25519 signatures over a canonical JSON encoding.

Canonical JSON: UTF-8, keys sorted, no whitespace (``separators=(",", ":")``), non-ASCII kept as is, numbers as
Python writes them (integers, and floats in their shortest round-trip form; NaN and infinities refused).  Both
ends are shopfloor, so the same encoder makes the same bytes; the hub also keeps the exact bytes it verified.

Ed25519 (RFC 8032) through the ``cryptography`` package: the factory keeps the private key (PEM, PKCS #8), the hub
keeps the 32-byte public key of each factory and accepts only reports that verify with it.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shopfloor.errors import KeyNotEd25519


class SignatureError(ValueError):
    """A report that does not verify; the message says why."""


def _check(value: Any, path: str = "payload") -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path}: {value} cannot be encoded (only finite numbers)")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{path}: keys must be text")
            _check(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check(v, f"{path}[{i}]")


def canonical(payload: Any) -> bytes:
    _check(payload)
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def generate_key() -> tuple[bytes, bytes]:
    """A new key pair: (private key as PEM, public key as its 32 raw bytes)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem, public_bytes(key)


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_private(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise KeyNotEd25519() from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyNotEd25519()
    return key


def sign(private_pem: bytes, payload: dict[str, Any]) -> dict[str, Any]:
    """The envelope a factory sends: the payload and the base64 signature of its canonical bytes."""
    signature = load_private(private_pem).sign(canonical(payload))
    return {"payload": payload, "signature": base64.b64encode(signature).decode()}


def verify(public_key: bytes, payload: dict[str, Any], signature_b64: str) -> bytes:
    """The canonical bytes of ``payload`` once its signature verifies with ``public_key``; else SignatureError."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, TypeError):
        raise SignatureError("the signature is not base64") from None
    if len(public_key) != 32:
        raise SignatureError("the factory has no valid Ed25519 public key at the hub")
    try:
        data = canonical(payload)
    except ValueError as exc:
        raise SignatureError(str(exc)) from None
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except InvalidSignature:
        raise SignatureError(
            "the signature does not match the report: it was changed or signed with another key"
        ) from None
    return data
