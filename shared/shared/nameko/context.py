"""Binds the caller's context (request id, trace, user) to the worker's log lines, opens the
worker's span (shared.nameko.tracing) and times the worker (shared.nameko.metrics)."""

from __future__ import annotations

import logging
import time
from typing import Any

from nameko.extensions import DependencyProvider

from shared import logs, tracing
from shared.nameko import metrics
from shared.nameko.tracing import close_span, open_span, verified_user_id

log = logging.getLogger(__name__)

# request_ids: every request a gateway batch serves (gateway.batching), besides the first.
PROPAGATED = ("request_id", "request_ids", "trace_id", "traceparent")


class RequestContext(DependencyProvider):  # type: ignore[misc]
    def __init__(self) -> None:
        self._tokens: dict[Any, Any] = {}
        self._started: dict[Any, float] = {}
        self._spans: dict[Any, tracing.Span] = {}
        self._active: dict[Any, object] = {}

    def setup(self) -> None:
        tracing.configure(self.container.service_name)  # the SDK only with an OTLP endpoint

    def worker_setup(self, worker_ctx: Any) -> None:
        # The worker's own span: nested calls and recorded events carry its traceparent.
        span = self._spans[worker_ctx] = open_span(worker_ctx)
        if span.otel is not None:
            self._active[worker_ctx] = span.activate()
        data = worker_ctx.data
        fields = {key: data.get(key) for key in PROPAGATED if isinstance(data.get(key), str)}
        self._tokens[worker_ctx] = logs.bind(
            method=worker_ctx.entrypoint.method_name, span_id=span.span_id, **fields)
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        # One line per call, after the reply has gone out, so that every request a service
        # handles leaves its request id in that service's log (the contract asks for it).
        started = self._started.pop(worker_ctx, None)
        elapsed = 0.0 if started is None else time.perf_counter() - started
        metrics.observe(worker_ctx, elapsed, exc_info)
        span = self._spans.pop(worker_ctx, None)
        if span is not None:
            close_span(span, worker_ctx, exc_info)
        outcome = "ok" if exc_info is None else exc_info[0].__name__
        extra: dict[str, Any] = {"outcome": outcome, "duration_ms": round(elapsed * 1000, 2)}
        user_id = verified_user_id(worker_ctx)
        if user_id is not None:
            extra["user_id"] = user_id
        log.info("handled %s", worker_ctx.entrypoint.method_name, extra=extra)

    def worker_teardown(self, worker_ctx: Any) -> None:
        self._started.pop(worker_ctx, None)
        self._spans.pop(worker_ctx, None)
        tracing.deactivate(self._active.pop(worker_ctx, None))
        token = self._tokens.pop(worker_ctx, None)
        if token is not None:
            logs.reset(token)

    def get_dependency(self, worker_ctx: Any) -> dict[str, Any]:
        return {key: worker_ctx.context_data.get(key) for key in PROPAGATED}
