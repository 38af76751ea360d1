"""Who is calling a nameko worker: the identity in the access token the caller forwarded.

    class OrdersService:
        principal = Principal()

        @rpc
        def cancel(self, order_id):
            me = self.principal.identity()       # Unauthorized without a valid token
            self.principal.require_role("admin")  # Forbidden for anyone else

The caller (the gateway's `upstream.call`, or a service acting on a user's behalf: nameko
forwards context data to nested calls) sends the raw access token in the context header
`nameko.authorization`. Nothing else counts: `nameko.user_id`, `nameko.roles` or any other
header a plain AMQP client can set grants nothing, because only a signature auth made does.
The JWKS comes from `auth.get_jwks` over RPC (a reply counts only if auth's broker user sent
it: shared.nameko.service_rpc), cached and refreshed on an unknown kid at most once per few
seconds; the auth service itself passes `jwks_from="<its key dependency>"`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, Protocol

from nameko.extensions import DependencyProvider

from shared.errors import Forbidden, Unauthorized
from shared.nameko.revocation_feed import RevocationFeed
from shared.nameko.service_rpc import ServiceRpc
from shared.token_cache import VerifiedTokens
from shared.tokens import Identity, TokenVerifier

CONTEXT_KEY = "authorization"
JWKS_SERVICE, JWKS_METHOD = "auth", "get_jwks"
_NO_CONTEXT = SimpleNamespace(context_data={})  # a key fetch acts for no user


class Verifies(Protocol):
    def verify(self, token: str) -> Identity: ...


class Caller:
    """The worker's view of its caller; verifies the token once, on first use."""

    def __init__(self, verifier: Verifies, token: object) -> None:
        self._verifier = verifier
        self._token = token
        self._identity: Identity | None = None

    def identity(self) -> Identity:
        if self._identity is None:
            if not isinstance(self._token, str) or not self._token:
                raise Unauthorized("An access token is required.")
            token = self._token
            if token[:7].lower() == "bearer ":
                token = token[7:].strip()
            self._identity = self._verifier.verify(token)
        return self._identity

    def require_role(self, role: str) -> Identity:
        identity = self.identity()
        if not identity.has_role(role):
            raise Forbidden(f"This requires the {role} role.")
        return identity


class _KeySetRpc(ServiceRpc):
    """ServiceRpc as a sub-extension of Principal (nameko binds those without a name)."""

    def bind(self, container: Any, attr_name: str = "jwks_rpc") -> Any:
        return super().bind(container, attr_name)


class Principal(DependencyProvider):  # type: ignore[misc]
    revocation_feed = RevocationFeed()

    def __init__(self, jwks_from: str | None = None, timeout: float = 5.0,
                 refresh_interval: float = 5.0, cache_seconds: float = 30.0) -> None:
        self._jwks_from = jwks_from
        self._timeout = timeout
        self._refresh_interval = refresh_interval
        self._cache_seconds = cache_seconds
        self.verifier: TokenVerifier | None = None
        self._tokens: Verifies | None = None
        if jwks_from is None:  # a sub-extension: nameko binds, starts and stops it with us
            self.jwks_rpc = _KeySetRpc(JWKS_SERVICE, timeout=timeout)

    def setup(self) -> None:
        self.verifier = TokenVerifier(self._fetch_jwks, refresh_interval=self._refresh_interval)
        # With cache_seconds 0 nothing is remembered, but revocations still count.
        self._tokens = VerifiedTokens(self.verifier, self._cache_seconds,
                                      revocations=self.revocation_feed.revocations)

    def get_dependency(self, worker_ctx: Any) -> Caller:
        assert self._tokens is not None, "Principal used before setup()"
        return Caller(self._tokens, worker_ctx.context_data.get(CONTEXT_KEY))

    def _fetch_jwks(self) -> Mapping[str, Any]:
        if self._jwks_from is not None:
            return self._local_jwks(self._jwks_from)
        jwks: Mapping[str, Any] = self.jwks_rpc.call(_NO_CONTEXT, JWKS_METHOD, (), {})
        return jwks

    def _local_jwks(self, name: str) -> Mapping[str, Any]:
        for dependency in self.container.dependencies:
            if dependency.attr_name == name:
                jwks: Mapping[str, Any] = dependency.jwks()
                return jwks
        raise LookupError(f"{self.container.service_name} has no dependency {name!r}")
