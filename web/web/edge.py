"""The outermost layer: a request id, the visitor's `sid` cookie, and the security headers.

Every response gets a strict Content-Security-Policy (scripts and styles only from our own
origin: no inline script, no eval) and the gateway's headers (nosniff, no-referrer, DENY).
Pages are personal (the navigation shows who is signed in), so they are `no-store`; static
files are cacheable. A route that rotates the session id (sign in, sign out) sets
`state.sid` and `state.sid_changed`, and the cookie is written here.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import sessions
from web.api import new_request_id

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


class Edge:
    def __init__(self, app: ASGIApp, secure: bool, session_ttl: int) -> None:
        self.app = app
        self.secure = secure
        self.session_ttl = session_ttl

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        sent_id = conn.headers.get("x-request-id", "")
        state["request_id"] = sent_id if _REQUEST_ID.match(sent_id) else new_request_id()
        sid = conn.cookies.get(sessions.COOKIE)
        state["sid_changed"] = not sessions.valid_sid(sid)
        state["sid"] = sid if not state["sid_changed"] else sessions.new_sid()
        static = scope["path"].startswith("/static/")

        async def decorated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY.items():
                    headers.setdefault(name, value)
                headers["X-Request-ID"] = state["request_id"]
                if self.secure:
                    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
                if not static:
                    headers["Cache-Control"] = "no-store"
                    if state["sid_changed"]:
                        headers.append("Set-Cookie", self._cookie(state["sid"]))
            await send(message)

        await self.app(scope, receive, decorated)

    def _cookie(self, sid: str) -> str:
        secure = "; Secure" if self.secure else ""
        return (f"{sessions.COOKIE}={sid}; Path=/; Max-Age={self.session_ttl}; HttpOnly; "
                f"SameSite=Lax{secure}")
