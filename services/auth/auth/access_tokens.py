"""Minting access tokens: short-lived EdDSA JWTs that every process verifies locally
(shared.tokens.TokenVerifier) with the public keys in the JWKS."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import jwt

from auth.signing_keys import KeyRing
from shared.tokens import ACCESS_TOKEN_TYPE, ALGORITHM


class AccessTokens:
    def __init__(self, keys: KeyRing, issuer: str, audience: str, ttl_seconds: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl_seconds
        self._clock = clock

    def issue(self, user_id: uuid.UUID, roles: tuple[str, ...]) -> tuple[str, int]:
        key = self.keys.signing
        now_ms = int(self._clock() * 1000)
        now = now_ms // 1000
        # iat_ms: a revocation in the same second as a new login must not refuse that login.
        claims = {"iss": self.issuer, "aud": self.audience, "sub": str(user_id), "iat": now,
                  "iat_ms": now_ms, "exp": now + self.ttl, "jti": uuid.uuid4().hex,
                  "roles": list(roles)}
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM,
                           headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE})
        return token, self.ttl
