"""Binds the caller's context (request id, trace id, user) to the worker's log lines."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from shared import logs

PROPAGATED = ("request_id", "trace_id", "traceparent")


class RequestContext(DependencyProvider):  # type: ignore[misc]
    def __init__(self) -> None:
        self._tokens: dict[Any, Any] = {}

    def worker_setup(self, worker_ctx: Any) -> None:
        data = worker_ctx.context_data
        fields = {key: data.get(key) for key in PROPAGATED if isinstance(data.get(key), str)}
        self._tokens[worker_ctx] = logs.bind(
            method=worker_ctx.entrypoint.method_name, **fields)

    def worker_teardown(self, worker_ctx: Any) -> None:
        token = self._tokens.pop(worker_ctx, None)
        if token is not None:
            logs.reset(token)

    def get_dependency(self, worker_ctx: Any) -> dict[str, Any]:
        return {key: worker_ctx.context_data.get(key) for key in PROPAGATED}
