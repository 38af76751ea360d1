"""Auth nameko entrypoints: payload -> use case -> result/events.

Public RPCs (arguments are validated; bad ones come back as ValidationFailed with field errors):
- `get_user(user_id)` -> User `{id, email, display_name, roles, created_at}`; NotFound.
- `verify_token(token)` -> `{user_id, roles}`; Unauthorized for anything but a valid access token.
- `get_jwks()` -> `{"keys": [...]}`: the public keys that verify access tokens.
- `register(email, password, display_name=None)` -> User; Conflict, ValidationFailed.
- `login(email, password)` -> `{access_token, token_type, expires_in, refresh_token}`;
  Unauthorized (same for unknown email and wrong password), TooManyRequests (retry_after).
- `refresh(refresh_token)` -> a new pair; `logout(refresh_token)` -> None (family revoked).
- `me()` -> User of the caller's access token (`nameko.authorization`); Unauthorized.
- `set_roles(user_id, roles)` -> User; caller must be admin (Forbidden); NotFound, ValidationFailed.
- `list_users(limit=20, cursor=None, q=None)` -> `{items: [User], next_cursor}`, newest first;
  admin only (Forbidden); ValidationFailed for a bad limit or cursor (auth.directory).
"""

from __future__ import annotations

from typing import Any

from eventlet import tpool
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider

from auth import directory, use_cases
from auth.config import settings
from auth.passwords import HashSlots, with_niceness
from auth.runtime import Runtime, bootstrap, build
from auth.schemas import (
    Credentials,
    RefreshToken,
    Registration,
    RoleChange,
    UserId,
    parse,
    user_json,
)
from shared.db import UnitOfWorkFactory, make_engine
from shared.errors import NotFound, Unauthorized
from shared.messaging.identity import GATEWAY, VERIFIERS
from shared.nameko.bootstrap import prepare
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.health import HealthMixin
from shared.nameko.metrics import ServiceMetrics
from shared.nameko.outbox import OutboxRelay
from shared.nameko.principal import Principal
from shared.nameko.rpc import rpc

prepare("auth", settings().log_level)


class AuthRuntime(DependencyProvider):  # type: ignore[misc]
    """Keys, token minting/checking and password hashing, built once per container; then the
    admin bootstrap. It uses its own short-lived engine: setup() order is not guaranteed."""

    built: Runtime | None = None

    def setup(self) -> None:
        config = settings()
        # Argon2 runs in eventlet's OS thread pool (it would block the hub), capped in number,
        # at a lower thread priority than request handling.
        niceness = config.hash_niceness
        slots = HashSlots(Semaphore(config.hash_concurrency),
                          lambda fn, *args: tpool.execute(with_niceness, niceness, fn, *args),
                          config.hash_queue_limit)
        factory = UnitOfWorkFactory(make_engine(config.database_url, pool_size=1))
        try:
            self.built = build(config, factory, slots)
            bootstrap(config, self.built, factory)
        finally:
            factory.engine.dispose()

    def jwks(self) -> dict[str, Any]:
        assert self.built is not None, "AuthRuntime used before setup()"
        return self.built.keys.jwks()

    def get_dependency(self, worker_ctx: Any) -> Runtime:
        assert self.built is not None, "AuthRuntime used before setup()"
        return self.built


class AuthService(HealthMixin):
    name = "auth"

    context = RequestContext()
    metrics = ServiceMetrics()  # /metrics on <SERVICE>_METRICS_PORT (docs/observability.md)
    db = Database(lambda: settings().database_url, lambda: settings().db_pool_size)
    runtime = AuthRuntime()
    relay = OutboxRelay(lambda: settings().database_url)
    principal = Principal(jwks_from="runtime")

    def _deps(self) -> use_cases.Deps:
        built: Runtime = self.runtime  # in a worker: what AuthRuntime.get_dependency returned
        return built.deps(self.db)

    @rpc  # type: ignore[untyped-decorator]
    def get_user(self, user_id: Any) -> dict[str, Any]:
        data = parse(UserId, user_id=user_id)
        return user_json(use_cases.get_user(self._deps(), data.user_id))

    @rpc  # type: ignore[untyped-decorator]
    def verify_token(self, token: Any) -> dict[str, Any]:
        if not isinstance(token, str):
            raise Unauthorized("The access token is invalid.")
        built: Runtime = self.runtime
        identity = built.verifier.verify(token)
        return {"user_id": identity.user_id, "roles": list(identity.roles)}

    @rpc(callers=VERIFIERS)  # type: ignore[untyped-decorator]
    def get_jwks(self) -> dict[str, Any]:
        built: Runtime = self.runtime
        return built.keys.jwks()

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def register(self, email: Any, password: Any, display_name: Any = None) -> dict[str, Any]:
        data = parse(Registration, email=email, password=password, display_name=display_name)
        return user_json(use_cases.register(self._deps(), data))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def login(self, email: Any, password: Any) -> dict[str, Any]:
        pair = use_cases.login(self._deps(), parse(Credentials, email=email, password=password))
        return _pair_json(pair)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def refresh(self, refresh_token: Any) -> dict[str, Any]:
        data = parse(RefreshToken, refresh_token=refresh_token)
        return _pair_json(use_cases.refresh(self._deps(), data.refresh_token))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def logout(self, refresh_token: Any) -> None:
        data = parse(RefreshToken, refresh_token=refresh_token)
        use_cases.logout(self._deps(), data.refresh_token)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def me(self) -> dict[str, Any]:
        identity = self.principal.identity()
        try:
            user = use_cases.get_user(self._deps(), UserId(user_id=identity.user_id).user_id)
        except NotFound:
            raise Unauthorized("The account no longer exists.") from None
        return user_json(user)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def set_roles(self, user_id: Any, roles: Any) -> dict[str, Any]:
        self.principal.require_role("admin")
        data = parse(RoleChange, user_id=user_id, roles=roles)
        return user_json(use_cases.set_roles(self._deps(), data.user_id, data.roles))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def list_users(self, limit: Any = 20, cursor: Any = None, q: Any = None) -> dict[str, Any]:
        self.principal.require_role("admin")
        return directory.list_users(self._deps(), limit=limit, cursor=cursor, q=q)


def _pair_json(pair: use_cases.TokenPair) -> dict[str, Any]:
    return {"access_token": pair.access_token, "token_type": pair.token_type,
            "expires_in": pair.expires_in, "refresh_token": pair.refresh_token}
