"""The outer edge, one pure ASGI layer (each layer wraps `send` and costs CPU on every request):
security headers, request id, trace span, body limit, request metrics and the access log line.

`EdgeMiddleware` holds the settings; each HTTP request gets a gateway.edge_responder
`EdgeResponder` of its own (as starlette's GZipMiddleware does). Everything that decorates the
response is done once, at the response start: `X-Request-ID`, the RateLimit-* headers that
gateway.shedding.Admission (or ratelimit.charge_user) left in the request's state, and the
security headers (gateway.headers).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import headers, metrics
from gateway.edge_responder import EdgeResponder, new_request_id

__all__ = ["EdgeMiddleware", "new_request_id"]


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
        await EdgeResponder(self, scope, receive, send).respond()
