"""Calling a service from a route: the request's context travels as nameko context headers.

Each call goes through the service's circuit breaker (gateway.breaker, app.state.breakers; None
when GATEWAY_BREAKER_ENABLED=false): while it is open the call answers 503 at once.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request

from gateway.breaker import Breakers
from gateway.metrics import UPSTREAM_ERRORS, UPSTREAM_LATENCY
from gateway.rpc import RpcClient
from shared.errors import SuiteError


def context_of(request: Request) -> dict[str, str]:
    context = {"request_id": request.state.request_id}
    span = getattr(request.state, "span", None)
    if span is not None:  # the called service's span becomes a child of this request's
        context["trace_id"] = span.trace_id
        context["traceparent"] = span.traceparent
    context.update(getattr(request.state, "upstream_context", {}))
    return context


async def call(request: Request, service: str, method: str, *args: Any,
               timeout: float | None = None, **kwargs: Any) -> Any:
    return await call_with(request.app.state, context_of(request), service, method, *args,
                           timeout=timeout, **kwargs)


async def call_with(state: Any, context: dict[str, str], service: str, method: str, *args: Any,
                    timeout: float | None = None, **kwargs: Any) -> Any:
    """`call` for work that is not one request's own (a batch of several requests' reads)."""
    rpc: RpcClient = state.rpc
    breakers: Breakers | None = getattr(state, "breakers", None)
    started = time.perf_counter()
    try:
        if breakers is None:
            return await rpc.call(service, method, *args, context=context, timeout=timeout,
                                  **kwargs)
        # A lost broker connection fails every call at once anyway: not the service's fault.
        # (getattr: stand-ins for the client in route tests need not track a connection.)
        return await breakers.get(service).call(
            lambda: rpc.call(service, method, *args, context=context, timeout=timeout,
                             **kwargs),
            blame=lambda: bool(getattr(rpc, "connected", True)))
    except SuiteError as error:
        UPSTREAM_ERRORS.labels(service, method, str(error.status)).inc()
        raise
    finally:
        UPSTREAM_LATENCY.labels(service, method).observe(time.perf_counter() - started)
