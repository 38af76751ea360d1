"""Edge authentication: FastAPI dependencies that verify the bearer access token locally.

    @router.get("/things", responses=problem_responses(401, 403))
    async def things(request: Request, me: Identity = Depends(current_user)) -> ...:

`current_user` (401 + `WWW-Authenticate: Bearer`), `current_admin` (403 for non-admins),
`optional_user` (None without a token; a token that is sent must be valid). Each verified
request gets `request.state.upstream_context["authorization"] = <raw token>`, which
`gateway.upstream.call` forwards as `nameko.authorization`, so services check the same token
with `shared.nameko.principal.Principal`. Identity never comes from any other header.

Verification is local (no RPC per request), by the state's `EdgeVerifier` (gateway.verifier).

A verified request outside /auth/* also spends one request of its user's rate-limit budget
(gateway.ratelimit.charge_user): 429 + Retry-After once that is spent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.ratelimit import charge_user
from gateway.state import state_of
from shared.errors import Forbidden, Unauthorized
from shared.tokens import Identity

ADMIN_ROLE = "admin"

# Declares the scheme in OpenAPI; parsing the header ourselves keeps the 401 body ours.
bearer_scheme = HTTPBearer(auto_error=False, bearerFormat="JWT",
                           description="An access token from POST /auth/login.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]


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
    identity = await state_of(request).verifier.verify(token)
    state = request.scope["state"]  # the request's own (gateway.middleware)
    state.setdefault("upstream_context", {})["authorization"] = token
    state["identity"] = identity
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
