"""Prometheus metrics of the gateway: requests by route template, upstream RPCs, limits."""

from __future__ import annotations

import os
import weakref
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import Scope

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
EDGE_REFUSED = Counter("gateway_edge_refused_total", "Connections closed by gateway.edge_protocol: "
                       "reason header_timeout, body_timeout or connections (per-client cap)",
                       ["reason"])


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


class Recorder:
    """Counts and times answered requests (gateway.edge_responder.EdgeResponder calls it once per
    request). The label children are bound once per method, route template and status, not
    looked up with `.labels()` on every request: the label sets are bounded the same way."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def __call__(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._children.get((method, route, status))
        if children is None:
            children = self._children[method, route, status] = (
                REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        children[0].inc()
        children[1].observe(seconds)


class InflightSource(Protocol):
    inflight: int


_INFLIGHT_SOURCES: weakref.WeakSet[Any] = weakref.WeakSet()


def count_inflight(source: InflightSource) -> bool:
    """In a single process, gateway_inflight_requests reads the `inflight` of every live source
    when scraped, which costs nothing per request; True then. With several workers
    (PROMETHEUS_MULTIPROC_DIR) the gauge must live in the shared files: False, and the caller
    counts with inc()/dec() as it goes."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return False
    _INFLIGHT_SOURCES.add(source)
    INFLIGHT.set_function(lambda: sum(s.inflight for s in list(_INFLIGHT_SOURCES)))
    return True
