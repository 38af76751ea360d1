"""Calling a service from a route: the request's context travels as nameko context headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from gateway.rpc import RpcClient


def context_of(request: Request) -> dict[str, str]:
    context = {"request_id": request.state.request_id}
    context.update(getattr(request.state, "upstream_context", {}))
    return context


async def call(request: Request, service: str, method: str, *args: Any,
               timeout: float | None = None, **kwargs: Any) -> Any:
    rpc: RpcClient = request.app.state.rpc
    return await rpc.call(service, method, *args, context=context_of(request), timeout=timeout,
                          **kwargs)
