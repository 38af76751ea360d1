"""Server-side sessions in Redis, keyed by a random id that is all the cookie holds.

The cookie (`sid`, HttpOnly, SameSite=Lax, Secure behind TLS) carries 32 random bytes; Redis
keeps the session under a hash of it, so a copy of Redis holds no usable cookie. Tokens, the
signed-in user and the cart live only here: never in a page, a URL or a script.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.lock import Lock

COOKIE = "sid"
TOKEN_FIELDS = ("access", "access_exp", "refresh")
_SID = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_sid() -> str:
    return secrets.token_urlsafe(32)


def valid_sid(raw: str | None) -> bool:
    return raw is not None and _SID.match(raw) is not None


class SessionStore:
    def __init__(self, redis: Redis, prefix: str, ttl: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl

    def _key(self, sid: str, part: str = "s") -> str:
        return f"{self.prefix}{part}:{hashlib.sha256(sid.encode()).hexdigest()}"

    async def load(self, sid: str) -> dict[str, Any]:
        """The session and its tokens, as one dict."""
        raw = await self.redis.mget(self._key(sid), self._key(sid, "t"))
        data: dict[str, Any] = {}
        for part in raw:
            loaded = json.loads(part) if part is not None else None
            if isinstance(loaded, dict):
                data.update(loaded)
        return data

    async def save(self, sid: str, data: dict[str, Any]) -> None:
        """Everything but the tokens: a page that saves its cart never puts back a refresh
        token that another request has spent meanwhile."""
        rest = {k: v for k, v in data.items() if k not in TOKEN_FIELDS}
        await self.redis.set(self._key(sid), json.dumps(rest), ex=self.ttl)

    async def save_tokens(self, sid: str, data: dict[str, Any]) -> None:
        tokens = {k: data[k] for k in TOKEN_FIELDS if k in data}
        await self.redis.set(self._key(sid, "t"), json.dumps(tokens), ex=self.ttl)

    async def delete(self, sid: str) -> None:
        await self.redis.delete(self._key(sid), self._key(sid, "t"))

    def refresh_lock(self, sid: str) -> Lock:
        # One refresh per session at a time: a refresh token is single-use, and presenting a
        # spent one revokes the whole family (two tabs refreshing at once would sign out).
        return self.redis.lock(self._key(sid) + ":refresh", timeout=10, blocking_timeout=10)
