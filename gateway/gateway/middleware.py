"""The outer edge, one pure ASGI layer (each layer wraps `send` and costs CPU on every request):
security headers, request id, trace span, body limit, request metrics and the access log line.

Everything that decorates the response does it in one `send` wrapper, at the response start:
`X-Request-ID`, the RateLimit-* headers that gateway.shedding.Admission (or
ratelimit.charge_user) left in the request's state, and the security headers (gateway.headers).
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import headers, metrics
from gateway.problems import problem_response
from shared import logs, tracing
from shared.errors import PayloadTooLarge, SuiteError

log = logging.getLogger(__name__)
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_INFO = logging.INFO


def new_request_id() -> str:
    # Same 32 hex digits as uuid4().hex, without building a UUID object per request.
    return os.urandom(16).hex()


class EdgeMiddleware:
    """Gives every request an id (echoed in `X-Request-ID`) and a span in the client's W3C trace
    (`traceparent`; a new trace without a valid one), counts and logs it once answered, and
    refuses bodies over the limit. `trace=False` / `metrics=False` (GATEWAY_TRACING_ENABLED,
    GATEWAY_METRICS_ENABLED) leave those out."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, hsts_max_age: int,
                 trace: bool = True, metrics_enabled: bool = True) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.trace = trace
        self.recorder = metrics.Recorder() if metrics_enabled else None
        self.hsts = headers.hsts(hsts_max_age)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = traceparent = None
        length: int | None = None
        credentials = seen_id = False
        for name, value in scope["headers"]:  # one pass over the headers for all we need
            if name == b"x-request-id":
                if not seen_id:  # the first one only; an insane one is replaced
                    seen_id = True
                    if _SANE_REQUEST_ID.fullmatch(candidate := value.decode("latin-1")):
                        request_id = candidate
            elif name == b"traceparent":
                traceparent = traceparent or value.decode("latin-1")
            elif name == b"content-length" and length is None:
                length = int(value) if value.isdigit() else 0
            elif name == b"authorization":
                credentials = True
        request_id = request_id or new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        span = active = None
        if self.trace:
            # upstream.call forwards span.traceparent: each service's span is its child.
            span = state["span"] = tracing.start_span("HTTP", tracing.SERVER, traceparent)
            active = span.activate()  # exporting: Redis spans nest under the request's
            token = logs.bind(request_id=request_id, trace_id=span.trace_id,
                              span_id=span.span_id)
        else:
            token = logs.bind(request_id=request_id)
        status = 500
        response_started = False
        id_header = (b"x-request-id", request_id.encode())
        hsts = self.hsts if scope.get("scheme") == "https" else None

        async def send_decorated(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = headers.decorate(
                    message.get("headers", ()), status, state, id_header, hsts, credentials)
            await send(message)

        try:
            if length is not None and length > self.max_body_bytes:
                await self._refuse(scope, receive, send_decorated, request_id)
                return
            try:
                await self.app(scope, self._limited(receive), send_decorated)
            except Exception:
                # Starlette answers unhandled errors outside every middleware, which would lose
                # the X-Request-ID header and the request id in the log line; answer here.
                if response_started:
                    raise
                log.exception("unhandled error")
                error = SuiteError("An unexpected error occurred.")
                await problem_response(error, request_id)(scope, receive, send_decorated)
        finally:
            self._finish(scope, state, status, time.perf_counter() - started, span)
            tracing.deactivate(active)
            logs.reset(token)

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

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        error = PayloadTooLarge(f"Request bodies are limited to {self.max_body_bytes} bytes.")
        response: Any = problem_response(error, request_id)
        response.headers["connection"] = "close"
        await response(scope, receive, send)

    def _finish(self, scope: Scope, state: dict[str, Any], status: int, seconds: float,
                span: tracing.Span | None) -> None:
        """Metrics, the request's log line (its `method` is the route template, never the raw
        path) and the end of its span."""
        method, route = scope["method"], metrics.route_label(scope)
        if status >= 400 and state.get("timed_out"):
            status = 408  # cut off by gateway.edge_protocol: what the client got, not the app
        if self.recorder is not None:
            self.recorder(method, route, status, seconds)
        operation = f"{method} {route}"
        if log.isEnabledFor(_INFO):
            extra: dict[str, Any] = {"method": operation, "status": status,
                                     "duration_ms": round(seconds * 1000, 2)}
            identity = state.get("identity")  # set by gateway.security once verified
            if identity is not None:
                extra["user_id"] = identity.user_id
            log.info("handled %s", operation, extra=extra)
        if span is not None and span.recording:
            span.name = operation
            span.end(f"HTTP {status}" if status >= 500 else None,
                     {"http.request.method": method, "http.route": route,
                      "http.response.status_code": status,
                      "suite.request_id": state.get("request_id")})

