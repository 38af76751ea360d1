"""Access-token signing keys: Ed25519, newest first; the newest signs, all of them verify.

Production passes them in AUTH_SIGNING_KEYS (a secret: never logged, never returned). Rotation:
put a new key first, keep the old one after it for at least the access-token lifetime, then
drop it. Without AUTH_SIGNING_KEYS (development) the service generates one key and keeps it in
its database so every replica signs with the same key (postgres.dev_signing_keys).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.utils import base64url_encode

from shared.tokens import ALGORITHM


class KeyConfigError(ValueError):
    """AUTH_SIGNING_KEYS is malformed (the message never contains key material)."""


@dataclass(frozen=True, repr=False)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    def public_jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": _public_x(self.private_key),
                "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"


class KeyRing:
    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise KeyConfigError("at least one signing key is required")
        self.keys = tuple(keys)
        self._public = [key.public_jwk() for key in self.keys]  # immutable: built once

    @property
    def signing(self) -> SigningKey:
        return self.keys[0]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(jwk) for jwk in self._public]}


def _public_x(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    return base64url_encode(raw).decode()


def thumbprint(private_key: Ed25519PrivateKey) -> str:
    """RFC 7638 JWK thumbprint: a kid that is a pure function of the public key."""
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _public_x(private_key)},
                         separators=(",", ":"), sort_keys=True)
    return base64url_encode(hashlib.sha256(members.encode()).digest()).decode()


def from_pem(pem: str, kid: str | None = None) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise KeyConfigError("a signing key is not an unencrypted PKCS#8 PEM") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyConfigError("signing keys must be Ed25519")
    return SigningKey(kid or thumbprint(key), key)


def generate() -> SigningKey:
    key = Ed25519PrivateKey.generate()
    return SigningKey(thumbprint(key), key)


def parse(raw: str) -> KeyRing:
    """AUTH_SIGNING_KEYS: a JSON list, newest first, of {"private_key": PEM, "kid"?: str}."""
    try:
        entries = json.loads(raw)
    except ValueError:
        raise KeyConfigError("AUTH_SIGNING_KEYS is not JSON") from None
    if not isinstance(entries, list):
        raise KeyConfigError("AUTH_SIGNING_KEYS must be a JSON list")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("private_key"), str):
            raise KeyConfigError("each AUTH_SIGNING_KEYS entry needs a private_key PEM")
        kid = entry.get("kid")
        if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= 64):
            raise KeyConfigError("a kid must be a string of 1 to 64 characters")
        keys.append(from_pem(entry["private_key"], kid))
    if len({key.kid for key in keys}) != len(keys):
        raise KeyConfigError("kids in AUTH_SIGNING_KEYS must be unique")
    return KeyRing(keys)
