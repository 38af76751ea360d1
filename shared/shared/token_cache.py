"""Access tokens that verified, remembered briefly (the gateway's edge and every service's
`Principal` use it)."""

from __future__ import annotations

import time
from collections.abc import Callable

from shared.revocations import Revocations
from shared.tokens import Identity, TokenVerifier


class VerifiedTokens:
    """Tokens that verified, remembered briefly: a client's calls carry the same token, and
    checking it (JWT parsing, an Ed25519 signature) on every call was a real share of a
    checkout's CPU. Only a token that passed `verify_expiring` is stored, and only until the
    earlier of its own `exp` and `ttl` from now (so a key withdrawn from the JWKS stops
    counting within `ttl` too); anything else is verified in full, every time. Revocations
    (a logout, a role change) count at once, cached or not: one dict lookup per call."""

    def __init__(self, verifier: TokenVerifier, ttl: float = 30.0, size: int = 4096,
                 clock: Callable[[], float] = time.time,
                 revocations: Revocations | None = None) -> None:
        self.verifier = verifier
        self.revocations = revocations or Revocations()
        self._ttl, self._size, self._clock = ttl, size, clock
        self._entries: dict[str, tuple[Identity, float]] = {}

    def verify(self, token: str) -> Identity:
        now = self._clock()
        hit = self._entries.get(token)
        if hit is not None and now < hit[1]:
            identity = hit[0]
        else:
            identity, expires = self.verifier.verify_expiring(token)
            if len(self._entries) >= self._size:
                self._entries.clear()  # crude, but bounded and rare: a miss is only slower
            self._entries[token] = (identity, min(float(expires), now + self._ttl))
        self.revocations.check(identity.user_id, identity.issued_ms)
        return identity
