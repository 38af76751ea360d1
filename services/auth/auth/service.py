"""Auth nameko entrypoints: parse (schemas.py), call a use case, render (views.py).

Public RPCs (arguments are validated; bad ones come back as ValidationFailed with field errors):
- `get_user(user_id)` -> User `{id, email, display_name, roles, created_at}`; UserNotFound.
- `verify_token(token)` -> `{user_id, roles}`; Unauthorized for anything but a valid access token.
- `get_jwks()` -> `{"keys": [...]}`: the public keys that verify access tokens.
- `register(email, password, display_name=None)` -> User; EmailTaken, ValidationFailed.
- `login(email, password)` -> `{access_token, token_type, expires_in, refresh_token}`;
  BadCredentials (same for unknown email and wrong password), LoginThrottled (retry_after).
- `refresh(refresh_token)` -> a new pair (TokenRejected); `logout(refresh_token)` -> None.
- `me()` -> User of the caller's access token (`nameko.authorization`); Unauthorized.
- `set_roles(user_id, roles)` -> User; caller must be admin (Forbidden); UserNotFound.
- `list_users(limit=20, cursor=None, q=None)` -> `{items: [User], next_cursor}`, newest first;
  admin only (Forbidden); ValidationFailed for a bad limit or cursor.
"""

from __future__ import annotations

from typing import Any

from auth import errors, sessions, use_cases, views
from auth.config import settings
from auth.dependencies import AuthRuntime, Runtime
from auth.schemas import (
    Credentials,
    RefreshToken,
    Registration,
    RoleChange,
    UserId,
    UserSearch,
    decode_cursor,
    parse,
)
from shared.errors import Unauthorized, UserNotFound
from shared.messaging.identity import GATEWAY, VERIFIERS
from shared.nameko.bootstrap import Prepared
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.health import HealthMixin
from shared.nameko.metrics import ServiceMetrics
from shared.nameko.outbox import OutboxRelay
from shared.nameko.principal import Principal
from shared.nameko.rpc import rpc


class AuthService(HealthMixin):
    name = "auth"

    prepared = Prepared("auth", lambda: settings().log_level)
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
        return views.user_json(use_cases.get_user(self._deps(), data.user_id))

    @rpc  # type: ignore[untyped-decorator]
    def verify_token(self, token: Any) -> dict[str, Any]:
        if not isinstance(token, str):
            raise Unauthorized("The access token is invalid.")  # shared.tokens' own words
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
        user = use_cases.register(self._deps(), data.email, data.password, data.display_name)
        return views.user_json(user)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def login(self, email: Any, password: Any) -> dict[str, Any]:
        data = parse(Credentials, email=email, password=password)
        return views.pair_json(sessions.login(self._deps(), data.email, data.password))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def refresh(self, refresh_token: Any) -> dict[str, Any]:
        data = parse(RefreshToken, refresh_token=refresh_token)
        return views.pair_json(sessions.refresh(self._deps(), data.refresh_token))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def logout(self, refresh_token: Any) -> None:
        data = parse(RefreshToken, refresh_token=refresh_token)
        sessions.logout(self._deps(), data.refresh_token)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def me(self) -> dict[str, Any]:
        identity = self.principal.identity()
        try:
            user = use_cases.get_user(self._deps(), UserId(user_id=identity.user_id).user_id)
        except UserNotFound:
            raise errors.account_gone() from None
        return views.user_json(user)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def set_roles(self, user_id: Any, roles: Any) -> dict[str, Any]:
        self.principal.require_role("admin")
        data = parse(RoleChange, user_id=user_id, roles=roles)
        return views.user_json(use_cases.set_roles(self._deps(), data.user_id, data.roles))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def list_users(self, limit: Any = 20, cursor: Any = None, q: Any = None) -> dict[str, Any]:
        self.principal.require_role("admin")
        search = parse(UserSearch, limit=limit, cursor=cursor, q=q)
        after = decode_cursor(search.cursor) if search.cursor else None
        page, more = use_cases.list_users(self._deps(), search.q, after, search.limit)
        return views.users_page(page, more)
