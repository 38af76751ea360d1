"""The gateway's token verifier: local checks, the JWKS fetched over RPC.

The JWKS comes from `auth.get_jwks` over RPC (only auth's broker user can answer it:
gateway.rpc), on first use and again on an unknown kid or when stale, at most once per
`REFRESH_INTERVAL`; concurrent requests share one in-flight fetch. A token whose user logged out
or changed roles after it was issued is refused within a second (gateway.revocations,
shared.revocations).
"""

from __future__ import annotations

import asyncio
import logging

from gateway.ports import Rpc
from shared.errors import ServiceUnavailable, SuiteError
from shared.revocations import Revocations
from shared.token_cache import VerifiedTokens
from shared.tokens import Identity, TokenVerifier

log = logging.getLogger(__name__)

REFRESH_INTERVAL = 5.0
JWKS_TIMEOUT = 3.0


class EdgeVerifier:
    """The gateway's TokenVerifier plus an asyncio JWKS fetch over RPC."""

    def __init__(self, rpc: Rpc, refresh_interval: float = REFRESH_INTERVAL,
                 revocations: Revocations | None = None) -> None:
        self.rpc = rpc
        self.verifier = TokenVerifier(None, refresh_interval=refresh_interval)
        # A client sends the same token with every request: its signature is checked once;
        # revocations (gateway.revocations feeds them) count on every request.
        self.tokens = VerifiedTokens(self.verifier, revocations=revocations)
        self._fetch: asyncio.Task[None] | None = None

    async def verify(self, token: str) -> Identity:
        if self._fetch is not None and not self._fetch.done():
            await asyncio.shield(self._fetch)
        elif self.verifier.refresh_due(token):
            self._fetch = asyncio.create_task(self._load())
            await asyncio.shield(self._fetch)
        return self.tokens.verify(token)

    async def _load(self) -> None:
        try:
            jwks = await self.rpc.call("auth", "get_jwks", timeout=JWKS_TIMEOUT)
            self.verifier.load(jwks)
        except SuiteError as error:
            self.verifier.load_failed()
            log.warning("fetching the JWKS from auth failed: %s", error.title)
            if not self.verifier.has_keys:
                raise ServiceUnavailable("The token signing keys are unavailable.") from None
