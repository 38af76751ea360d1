"""Prometheus metrics of a nameko service, served on the service's own port.

    class CatalogService:
        context = RequestContext()      # times every worker: suite_entrypoint_* below
        metrics = ServiceMetrics()      # serves /metrics, samples the outbox, DLQs, DB pools
        metrics = ServiceMetrics(signals=Signals())   # ... and the service's business gauges

Port: `<SERVICE>_METRICS_PORT` (e.g. CATALOG_METRICS_PORT), else METRICS_PORT, else the
service's default (auth 9101, catalog 9102, payments 9103; none for other services). `0` or an
empty value turns the endpoint off. METRICS_HOST (127.0.0.1) is the address it listens on.
A port that cannot be bound is logged and the service keeps serving without the endpoint:
metrics must never take a service down (Prometheus reports the target down instead).

Every METRICS_REFRESH_SECONDS (10) a greenthread samples what costs I/O: the outbox lag (one
query) and the depth of each dead-letter queue the service owns (passive declares on one AMQP
connection). A scrape only reads those samples and the DB pools, so it never waits on the
database or the broker.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from shared.nameko.backlog import Backlog, BacklogCollector, Signals
from shared.nameko.tracing import entrypoint_kind, error_status

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"auth": 9101, "catalog": 9102, "payments": 9103}
BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)

LATENCY = Histogram("suite_entrypoint_duration_seconds",
                    "Time a worker took: RPC methods, event handlers, timers",
                    ["service", "method", "kind"], buckets=BUCKETS)
ERRORS = Counter("suite_entrypoint_errors_total",
                 "Workers that raised, by the HTTP status their error maps to (500: untyped)",
                 ["service", "method", "kind", "status"])


def observe(worker_ctx: Any, seconds: float, exc_info: Any) -> None:
    """Record one finished worker (called by RequestContext.worker_result)."""
    service, method = worker_ctx.service_name, worker_ctx.entrypoint.method_name
    kind = entrypoint_kind(worker_ctx.entrypoint)
    LATENCY.labels(service, method, kind).observe(seconds)
    if exc_info is not None:
        ERRORS.labels(service, method, kind, str(error_status(exc_info))).inc()


def metrics_port(service: str, env: Mapping[str, str] = os.environ) -> int | None:
    """The port to serve /metrics on, or None when it is turned off."""
    raw = env.get(f"{service.upper()}_METRICS_PORT", env.get("METRICS_PORT"))
    if raw is None:
        return DEFAULT_PORTS.get(service)
    raw = raw.strip()
    if raw in ("", "0"):
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"metrics port {raw!r} is not a port number (0 turns metrics off)")
    return int(raw)


class _Process(Collector):
    """The process-wide registry (entrypoint metrics, process and GC metrics)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class ServiceMetrics(DependencyProvider):  # type: ignore[misc]
    def __init__(self, signals: Signals | None = None) -> None:
        self.signals = signals
        self.port: int | None = None
        self.registry: CollectorRegistry | None = None
        self.backlog: Backlog | None = None
        self._server: Any = None
        self._thread: Any = None
        self._sampler: Any = None

    def setup(self) -> None:
        self.port = metrics_port(self.container.service_name)
        self.backlog = Backlog(self.container, self.signals)
        # Not auto-described: several containers in one process (tests) each have their own.
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Process())
        self.registry.register(BacklogCollector(self.backlog))

    def start(self) -> None:
        assert self.backlog is not None and self.registry is not None
        if self.port is None:
            return
        host = os.environ.get("METRICS_HOST", "127.0.0.1")
        try:
            self._server, self._thread = start_http_server(self.port, host, self.registry)
        except OSError as exc:
            log.error("metrics endpoint not started: cannot listen on %s:%d (%s)",
                      host, self.port, exc.strerror or type(exc).__name__)
            return
        log.info("metrics on http://%s:%d/metrics", host, self.port)
        self._sampler = self.container.spawn_managed_thread(self.backlog.run,
                                                            identifier="ServiceMetrics")

    def stop(self) -> None:
        self._close()

    def kill(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._sampler is not None:
            self._sampler.kill()
            self._sampler = None
        if self.backlog is not None:
            self.backlog.close()
        if self._server is not None:
            server, self._server = self._server, None
            server.shutdown()  # serve_forever notices within its 0.5 s poll
            server.server_close()
            with eventlet.Timeout(2, False):
                self._thread.join()
