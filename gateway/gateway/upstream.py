"""Calling a service: the request's context travels as nameko context headers, and each call goes
through the service's circuit breaker (gateway.breaker; none when GATEWAY_BREAKER_ENABLED=false):
while it is open the call answers 503 at once."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from gateway.breaker import Breakers
from gateway.metrics import UPSTREAM_ERRORS, UPSTREAM_LATENCY
from gateway.ports import Rpc
from gateway.state import state_of
from shared.errors import SuiteError

Context = dict[str, str]


class Upstream:
    def __init__(self, rpc: Rpc, breakers: Breakers | None) -> None:
        self.rpc, self.breakers = rpc, breakers

    async def call(self, context: Context, service: str, method: str, *args: Any,
                   timeout: float | None = None, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            if self.breakers is None:
                return await self.rpc.call(service, method, *args, context=context,
                                           timeout=timeout, **kwargs)
            return await self.breakers.get(service).call(
                lambda: self.rpc.call(service, method, *args, context=context, timeout=timeout,
                                      **kwargs),
                blame=self._blame)
        except SuiteError as error:
            UPSTREAM_ERRORS.labels(service, method, str(error.status)).inc()
            raise
        finally:
            UPSTREAM_LATENCY.labels(service, method).observe(time.perf_counter() - started)

    def _blame(self) -> bool:
        # A lost broker connection fails every call at once anyway: not the service's fault.
        return self.rpc.connected


def context_of(request: Request) -> Context:
    state = request.scope["state"]  # the request's own state (gateway.middleware)
    context = {"request_id": state["request_id"]}
    span = state.get("span")
    if span is not None:  # the called service's span becomes a child of this request's
        context["trace_id"] = span.trace_id
        context["traceparent"] = span.traceparent
    context.update(state.get("upstream_context", {}))
    return context


async def call(request: Request, service: str, method: str, *args: Any,
               timeout: float | None = None, **kwargs: Any) -> Any:
    """One call on behalf of `request`, with its context."""
    return await state_of(request).upstream.call(context_of(request), service, method, *args,
                                                 timeout=timeout, **kwargs)
