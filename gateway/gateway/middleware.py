"""Pure ASGI middleware (BaseHTTPMiddleware costs too much per request): request id, trace,
access log line, body limit."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics import route_label
from gateway.problems import problem_response
from shared import logs, tracing
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


def traceparent_from(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"traceparent":
            return str(value.decode("latin-1"))
    return None


class EdgeMiddleware:
    """Gives every request an id (echoed in `X-Request-ID`) and a span in the client's W3C trace
    (`traceparent`; a new trace without a valid one), logs one line per request, and refuses
    bodies over the limit. `trace=False` (GATEWAY_TRACING_ENABLED) leaves out the trace."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, trace: bool = True) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.trace = trace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        span = None
        if self.trace:
            # upstream.call forwards span.traceparent: each service's span is its child.
            span = state["span"] = tracing.start_span("HTTP", tracing.SERVER,
                                                      traceparent_from(scope), service="gateway")
            token = logs.bind(request_id=request_id, trace_id=span.trace_id,
                              span_id=span.span_id)
        else:
            token = logs.bind(request_id=request_id)
        started, status = time.perf_counter(), [500]
        try:
            await self._handle(scope, receive, send, request_id, status)
        finally:
            _finish(scope, status[0], time.perf_counter() - started, span)
            logs.reset(token)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, request_id: str,
                      status: list[int]) -> None:
        header = request_id.encode()
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status[0] = message["status"]
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


def _finish(scope: Scope, status: int, seconds: float, span: tracing.Span | None) -> None:
    """The request's log line (its `method` is the route template, never the raw path) and the
    end of its span."""
    route = route_label(scope)
    operation = f"{scope['method']} {route}"
    if log.isEnabledFor(logging.INFO):
        extra: dict[str, Any] = {"method": operation, "status": status,
                                 "duration_ms": round(seconds * 1000, 2)}
        identity = scope["state"].get("identity")  # set by gateway.security once verified
        if identity is not None:
            extra["user_id"] = identity.user_id
        log.info("handled %s", operation, extra=extra)
    if span is not None and span.recording:
        span.name = operation
        span.end(f"HTTP {status}" if status >= 500 else None,
                 {"http.request.method": scope["method"], "http.route": route,
                  "http.response.status_code": status,
                  "suite.request_id": scope["state"].get("request_id")})
