"""Pure ASGI middleware (BaseHTTPMiddleware costs too much per request): request id, body limit."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.problems import problem_response
from shared import logs
from shared.errors import PayloadTooLarge, SuiteError

log = logging.getLogger(__name__)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


class EdgeMiddleware:
    """Gives every request an id (echoed in `X-Request-ID`) and refuses bodies over the limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = logs.bind(request_id=request_id)
        try:
            await self._handle(scope, receive, send, request_id)
        finally:
            logs.reset(token)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        header = request_id.encode()
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", header)]
            await send(message)

        if self._declared_length(scope) > self.max_body_bytes:
            await self._refuse(scope, receive, send_with_id, request_id)
            return
        try:
            await self.app(scope, self._limited(receive), send_with_id)
        except Exception:
            # Starlette answers unhandled errors outside every middleware, which would lose the
            # X-Request-ID header and the request id in the log line; answer here instead.
            if started:
                raise
            log.exception("unhandled error")
            error = SuiteError("An unexpected error occurred.")
            await problem_response(error, request_id)(scope, receive, send_with_id)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                # An HTTPException passes through FastAPI's body parsing unchanged -> 413.
                raise HTTPException(413)
            return message

        return limited_receive

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        error = PayloadTooLarge(f"Request bodies are limited to {self.max_body_bytes} bytes.")
        response: Any = problem_response(error, request_id)
        response.headers["connection"] = "close"
        await response(scope, receive, send)
