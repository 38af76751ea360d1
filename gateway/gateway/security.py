"""Edge authentication: FastAPI dependencies that verify the bearer access token locally.

    @router.get("/things", responses=problem_responses(401, 403))
    async def things(request: Request, me: Identity = Depends(current_user)) -> ...:

`current_user` (401 + `WWW-Authenticate: Bearer`), `current_admin` (403 for non-admins),
`optional_user` (None without a token; a token that is sent must be valid). Each verified
request gets `request.state.upstream_context["authorization"] = <raw token>`, which
`gateway.upstream.call` forwards as `nameko.authorization`, so services check the same token
with `shared.nameko.principal.Principal`. Identity never comes from any other header.

Verification is local (no RPC per request). The JWKS comes from `auth.get_jwks` over RPC (only
auth's broker user can answer it: gateway.rpc), on first use and again on an unknown kid or
when stale, at most once per `REFRESH_INTERVAL`; concurrent requests share one in-flight fetch.
A token whose user logged out or changed roles after it was issued is refused within a second
(gateway.revocations, shared.revocations).

A verified request outside /auth/* also spends one request of its user's rate-limit budget
(gateway.ratelimit.charge_user): 429 + Retry-After once that is spent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import FastAPI, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.ratelimit import charge_user
from gateway.rpc import RpcClient
from shared.errors import Forbidden, ServiceUnavailable, SuiteError, Unauthorized
from shared.revocations import Revocations
from shared.token_cache import VerifiedTokens
from shared.tokens import Identity, TokenVerifier

log = logging.getLogger(__name__)

REFRESH_INTERVAL = 5.0
JWKS_TIMEOUT = 3.0
ADMIN_ROLE = "admin"

# Declares the scheme in OpenAPI; parsing the header ourselves keeps the 401 body ours.
bearer_scheme = HTTPBearer(auto_error=False, bearerFormat="JWT",
                           description="An access token from POST /auth/login.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]


class EdgeVerifier:
    """The gateway's TokenVerifier plus an asyncio JWKS fetch over RPC."""

    def __init__(self, rpc: RpcClient, refresh_interval: float = REFRESH_INTERVAL,
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


def edge_verifier(app: FastAPI) -> EdgeVerifier:
    verifier: EdgeVerifier | None = getattr(app.state, "edge_verifier", None)
    if verifier is None:
        feed = getattr(app.state, "revocation_feed", None)
        verifier = EdgeVerifier(app.state.rpc, revocations=feed.revocations if feed else None)
        app.state.edge_verifier = verifier
    return verifier


def bearer_token(request: Request) -> str | None:
    """The raw token of `Authorization: Bearer <token>`; None without the header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized("Send the access token as `Authorization: Bearer <token>`.")
    return token


async def _authenticate(request: Request) -> Identity | None:
    # The header is parsed here, not by `bearer_scheme` (which only documents it), so these
    # functions also work when called directly from another dependency.
    token = bearer_token(request)
    if token is None:
        return None
    identity = await edge_verifier(request.app).verify(token)
    context: dict[str, Any] = getattr(request.state, "upstream_context", None) or {}
    context["authorization"] = token
    request.state.upstream_context = context
    request.state.identity = identity
    await charge_user(request, identity.user_id)
    return identity


async def optional_user(request: Request, credentials: Bearer = None) -> Identity | None:
    return await _authenticate(request)


async def current_user(request: Request, credentials: Bearer = None) -> Identity:
    identity = await _authenticate(request)
    if identity is None:
        raise Unauthorized("An access token is required.")
    return identity


async def current_admin(request: Request, credentials: Bearer = None) -> Identity:
    identity = await current_user(request)
    if not identity.has_role(ADMIN_ROLE):
        raise Forbidden("This requires the admin role.")
    return identity
