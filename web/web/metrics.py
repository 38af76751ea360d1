"""Prometheus metrics of the web front end, served on a port of their own (WEB_METRICS_PORT,
default 9104; 0 turns them off) on WEB_HOST: never on the public port, so no ingress or
published port can expose them (the nameko services' contract, shared.nameko.metrics). A port
that cannot be bound is logged and web keeps serving: Prometheus reports the target down."""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import Counter, Histogram, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

REQUESTS = Counter("web_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("web_request_duration_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(.0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))


def route_label(scope: Scope) -> str:
    # The endpoint's name, never the raw path: ids in paths would explode the label set.
    if scope["path"].startswith("/static/"):
        return "/static"
    endpoint = scope.get("endpoint")
    return getattr(endpoint, "__name__", None) or "unmatched"


class Metrics:
    """Counts and times every HTTP request (outermost but for Edge, so error pages count)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = route_label(scope)
            REQUESTS.labels(scope["method"], route, str(status[0])).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


def serve(host: str, port: int) -> Any:
    """Start the /metrics server; returns it (to shut down) or None when off or not bound."""
    if not port:
        return None
    try:
        server, _thread = start_http_server(port, host)
    except OSError as exc:
        log.error("metrics endpoint not started: cannot listen on %s:%d (%s)",
                  host, port, exc.strerror or type(exc).__name__)
        return None
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server
