"""One page request: its session, its CSRF token, and API calls made as the signed-in user.

An access token that expires within REFRESH_MARGIN seconds is refreshed before the call (under
a per-session Redis lock, re-reading the session inside it: another request may have refreshed
already); a 401 that still comes back is retried once after a forced refresh. A refresh that
fails ends the session: the user is sent to sign in again.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from web import csrf
from web.api import Api, ApiError, Reply
from web.sessions import TOKEN_FIELDS, SessionStore

REFRESH_MARGIN = 15.0


class SignInRequired(Exception):
    """The page needs a signed-in user; the handler redirects to the sign-in page."""


class AdminRequired(Exception):
    """A signed-in user without the admin role; the handler renders the 403 page."""


class Visit:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.api: Api = request.app.state.api
        self.store: SessionStore = request.app.state.sessions
        self.secret: str = request.app.state.settings.secret
        self._data: dict[str, Any] | None = None

    @property
    def sid(self) -> str:
        return str(self.request.state.sid)

    @property
    def request_id(self) -> str:
        return str(self.request.state.request_id)

    @property
    def csrf_token(self) -> str:
        return csrf.token(self.secret, self.sid)

    async def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {} if self.request.state.sid_changed else await self.store.load(self.sid)
        return self._data

    async def save(self) -> None:
        await self.store.save(self.sid, await self.data())

    async def user(self) -> dict[str, Any] | None:
        user: dict[str, Any] | None = (await self.data()).get("user")
        return user

    async def require_user(self) -> dict[str, Any]:
        user = await self.user()
        if user is None:
            raise SignInRequired
        return user

    async def require_admin(self) -> dict[str, Any]:
        user = await self.require_user()
        if "admin" not in user.get("roles", []):
            raise AdminRequired
        return user

    async def public(self, method: str, path: str, **kwargs: Any) -> Reply:
        return await self.api.call(method, path, request_id=self.request_id, **kwargs)

    async def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        """An API call as the signed-in user (SignInRequired when there is none)."""
        token = await self._access_token(force=False)
        try:
            return await self.api.call(method, path, request_id=self.request_id, token=token,
                                       **kwargs)
        except ApiError as error:
            if error.status != 401:
                raise
        token = await self._access_token(force=True)
        return await self.api.call(method, path, request_id=self.request_id, token=token,
                                   **kwargs)

    async def _access_token(self, force: bool) -> str:
        data = await self.data()
        if "access" not in data:
            raise SignInRequired
        if not force and data["access_exp"] - time.time() > REFRESH_MARGIN:
            return str(data["access"])
        seen = data["access"]
        async with self.store.refresh_lock(self.sid):
            data.update(await self.store.load(self.sid))
            if "access" not in data:
                raise SignInRequired
            if data["access"] == seen:  # nobody refreshed it meanwhile: our turn
                await self._refresh(data)
        return str(data["access"])

    async def _refresh(self, data: dict[str, Any]) -> None:
        try:
            reply = await self.public("POST", "/auth/refresh",
                                      json={"refresh_token": data["refresh"]})
        except ApiError as error:
            if error.status != 401:
                raise
            await self.sign_out_locally()
            raise SignInRequired from None
        keep_tokens(data, reply.data)
        await self.store.save_tokens(self.sid, data)

    async def sign_out_locally(self) -> None:
        data = await self.data()
        for key in ("user", *TOKEN_FIELDS):
            data.pop(key, None)
        await self.store.delete(self.sid)
        await self.save()


def keep_tokens(data: dict[str, Any], pair: dict[str, Any]) -> None:
    data["access"] = pair["access_token"]
    data["refresh"] = pair["refresh_token"]
    data["access_exp"] = time.time() + float(pair["expires_in"])
