"""Prometheus metrics of the gateway: requests by route template, upstream RPCs, limits."""

from __future__ import annotations

import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("gateway_requests_total", "HTTP requests answered",
                   ["method", "route", "status"])
LATENCY = Histogram("gateway_request_duration_seconds", "HTTP request latency",
                    ["method", "route"],
                    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
UPSTREAM_LATENCY = Histogram("gateway_upstream_rpc_duration_seconds", "RPC latency per call",
                             ["service", "method"],
                             buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1,
                                      2.5, 5))
UPSTREAM_ERRORS = Counter("gateway_upstream_rpc_errors_total", "RPC calls that failed",
                          ["service", "method", "status"])
RATE_LIMITED = Counter("gateway_rate_limited_total", "Requests refused with 429", ["budget"])
RATE_LIMIT_FAIL_OPEN = Counter("gateway_rate_limit_fail_open_total",
                               "Requests let through because Redis was unreachable")
BREAKER_STATE = Gauge("gateway_circuit_breaker_state",
                      "Circuit breaker per upstream service: 0 closed, 1 open, 2 half-open",
                      ["service"])
BREAKER_REJECTED = Counter("gateway_circuit_breaker_rejected_total",
                           "Calls answered 503 at once because the service's breaker was open",
                           ["service"])
INFLIGHT = Gauge("gateway_inflight_requests", "Requests in flight (load shedding counts them)",
                 multiprocess_mode="livesum")
SHED = Counter("gateway_load_shed_total", "Requests answered 503 at once: too many in flight")


def exposition() -> bytes:
    """This process's metrics in the text format or, when PROMETHEUS_MULTIPROC_DIR is set
    (`python -m gateway` sets it for GATEWAY_WORKERS > 1), every worker's, merged: counters and
    histograms summed; gauges per worker (a `pid` label) unless they chose another mode."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest()
    registry = CollectorRegistry()  # per scrape, as prometheus_client requires in this mode
    MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def route_label(scope: Scope) -> str:
    # The template, never the raw path: ids in paths would explode the label set.
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            route = route_label(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)
