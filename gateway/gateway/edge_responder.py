"""One HTTP request's way through the edge (gateway.middleware.EdgeMiddleware makes one per
request, as starlette's GZipMiddleware makes a GZipResponder): read the headers once, wrap
`receive` (the body limit) and `send` (the edge's headers at the response start), answer
unhandled errors with the request id, then count, log and end the span."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from gateway import headers, metrics
from gateway.problems import problem_response
from shared import logs, tracing
from shared.errors import PayloadTooLarge, SuiteError

if TYPE_CHECKING:
    from gateway.middleware import EdgeMiddleware

log = logging.getLogger("gateway.middleware")  # the access log's logger, as before
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_INFO = logging.INFO


def new_request_id() -> str:
    # Same 32 hex digits as uuid4().hex, without building a UUID object per request.
    return os.urandom(16).hex()


class EdgeResponder:
    """One HTTP request's way through the edge."""

    __slots__ = ("answering", "credentials", "edge", "id_header", "length", "receive",
                 "request_id", "scope", "seen", "send", "span", "started", "state", "status",
                 "traceparent")

    def __init__(self, edge: EdgeMiddleware, scope: Scope, receive: Receive,
                 send: Send) -> None:
        self.edge, self.scope, self.receive, self.send = edge, scope, receive, send
        self.started = time.perf_counter()
        self.status, self.answering, self.seen = 500, False, 0
        self.request_id: str | None = None
        self.traceparent: str | None = None
        self.length: int | None = None
        self.credentials = False
        self._read_headers()
        self.request_id = self.request_id or new_request_id()
        self.state: dict[str, Any] = scope.setdefault("state", {})
        self.state["request_id"] = self.request_id
        self.id_header = (b"x-request-id", self.request_id.encode())
        self.span: tracing.Span | None = None

    def _read_headers(self) -> None:
        seen_id = False
        for name, value in self.scope["headers"]:  # one pass for all the edge needs
            if name == b"x-request-id":
                if not seen_id:  # the first one only; an insane one is replaced
                    seen_id = True
                    if _SANE_REQUEST_ID.fullmatch(candidate := value.decode("latin-1")):
                        self.request_id = candidate
            elif name == b"traceparent":
                self.traceparent = self.traceparent or value.decode("latin-1")
            elif name == b"content-length" and self.length is None:
                self.length = int(value) if value.isdigit() else 0
            elif name == b"authorization":
                self.credentials = True

    async def respond(self) -> None:
        active, token = self._open()
        try:
            length = self.length
            if length is not None and length > self.edge.max_body_bytes:
                await self._refuse()
            else:
                await self._serve()
        finally:
            self._finish(time.perf_counter() - self.started)
            tracing.deactivate(active)
            logs.reset(token)

    def _open(self) -> tuple[object | None, Any]:
        """The request's span (when tracing) and its log context."""
        if not self.edge.trace:
            return None, logs.bind(request_id=self.request_id)
        # upstream.call forwards span.traceparent: each service's span is its child.
        span = self.span = self.state["span"] = tracing.start_span(
            "HTTP", tracing.SERVER, self.traceparent)
        active = span.activate()  # exporting: Redis spans nest under the request's
        return active, logs.bind(request_id=self.request_id, trace_id=span.trace_id,
                                 span_id=span.span_id)

    async def _serve(self) -> None:
        try:
            await self.edge.app(self.scope, self.limited_receive, self.decorated_send)
        except Exception:
            # Starlette answers unhandled errors outside every middleware, which would lose
            # the X-Request-ID header and the request id in the log line; answer here.
            if self.answering:
                raise
            log.exception("unhandled error")
            error = SuiteError("An unexpected error occurred.")
            await problem_response(error, self.request_id)(self.scope, self.receive,
                                                           self.decorated_send)

    async def _refuse(self) -> None:
        limit = self.edge.max_body_bytes
        error = PayloadTooLarge(f"Request bodies are limited to {limit} bytes.")
        response: Any = problem_response(error, self.request_id)
        response.headers["connection"] = "close"
        await response(self.scope, self.receive, self.decorated_send)

    async def limited_receive(self) -> Message:
        message = await self.receive()
        self.seen += len(message.get("body", b""))
        if self.seen > self.edge.max_body_bytes:
            # An HTTPException passes through FastAPI's body parsing unchanged -> 413.
            raise HTTPException(413)
        return message

    async def decorated_send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.answering = True
            status = self.status = message["status"]
            hsts = self.edge.hsts if self.scope.get("scheme") == "https" else None
            message["headers"] = headers.decorate(message.get("headers", ()), status,
                                                  self.state, self.id_header, hsts,
                                                  self.credentials)
        await self.send(message)

    def _finish(self, seconds: float) -> None:
        """Metrics, the request's log line (its `method` is the route template, never the raw
        path) and the end of its span."""
        scope, state, status = self.scope, self.state, self.status
        method, route = scope["method"], metrics.route_label(scope)
        if status >= 400 and state.get("timed_out"):
            status = 408  # cut off by gateway.edge_protocol: what the client got, not the app
        if self.edge.recorder is not None:
            self.edge.recorder(method, route, status, seconds)
        operation = f"{method} {route}"
        if log.isEnabledFor(_INFO):
            self._log(operation, status, seconds)
        span = self.span
        if span is not None and span.recording:
            span.name = operation
            span.end(f"HTTP {status}" if status >= 500 else None,
                     {"http.request.method": method, "http.route": route,
                      "http.response.status_code": status,
                      "suite.request_id": state.get("request_id")})

    def _log(self, operation: str, status: int, seconds: float) -> None:
        extra: dict[str, Any] = {"method": operation, "status": status,
                                 "duration_ms": round(seconds * 1000, 2)}
        identity = self.state.get("identity")  # set by gateway.security once verified
        if identity is not None:
            extra["user_id"] = identity.user_id
        log.info("handled %s", operation, extra=extra)
