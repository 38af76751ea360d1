"""Binds the caller's context (request id, trace id, user) to the worker's log lines."""

from __future__ import annotations

import logging
import time
from typing import Any

from nameko.extensions import DependencyProvider

from shared import logs

log = logging.getLogger(__name__)

PROPAGATED = ("request_id", "trace_id", "traceparent")


class RequestContext(DependencyProvider):  # type: ignore[misc]
    def __init__(self) -> None:
        self._tokens: dict[Any, Any] = {}
        self._started: dict[Any, float] = {}

    def worker_setup(self, worker_ctx: Any) -> None:
        data = worker_ctx.context_data
        fields = {key: data.get(key) for key in PROPAGATED if isinstance(data.get(key), str)}
        self._tokens[worker_ctx] = logs.bind(
            method=worker_ctx.entrypoint.method_name, **fields)
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        # One line per call, after the reply has gone out, so that every request a service
        # handles leaves its request id in that service's log (the contract asks for it).
        started = self._started.pop(worker_ctx, None)
        elapsed = 0.0 if started is None else (time.perf_counter() - started) * 1000
        outcome = "ok" if exc_info is None else exc_info[0].__name__
        log.info("handled %s", worker_ctx.entrypoint.method_name,
                 extra={"outcome": outcome, "duration_ms": round(elapsed, 2)})

    def worker_teardown(self, worker_ctx: Any) -> None:
        self._started.pop(worker_ctx, None)
        token = self._tokens.pop(worker_ctx, None)
        if token is not None:
            logs.reset(token)

    def get_dependency(self, worker_ctx: Any) -> dict[str, Any]:
        return {key: worker_ctx.context_data.get(key) for key in PROPAGATED}
