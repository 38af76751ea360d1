"""The gateway's state: one typed object, built with the app (gateway.wiring), started and
stopped by its one lifespan, and given to routes through FastAPI dependencies.

    async def endpoint(reads: Reads, ...) -> Response: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection, Request

from gateway.cache import ReadCache
from gateway.config import GatewaySettings
from gateway.ports import Lifecycle, Rpc
from gateway.product_reads import ProductReads
from gateway.readiness import SharedCheck
from gateway.verifier import EdgeVerifier

if TYPE_CHECKING:
    from gateway.breaker import Breakers
    from gateway.ratelimit import RateLimiter
    from gateway.upstream import Upstream


@dataclass(eq=False)
class GatewayState:
    settings: GatewaySettings
    rpc: Rpc
    upstream: Upstream
    breakers: Breakers | None
    limiter: RateLimiter | None  # None when RATE_LIMIT_ENABLED=false
    verifier: EdgeVerifier
    cache: ReadCache | None  # None when GATEWAY_CACHE_ENABLED=false
    reads: ProductReads
    readiness: SharedCheck[dict[str, str]]
    parts: list[Lifecycle] = field(default_factory=list)  # started in this order

    async def start(self) -> None:
        for part in self.parts:
            await part.start()

    async def stop(self) -> None:
        for part in reversed(self.parts):
            await part.stop()
        if self.limiter is not None:
            await self.limiter.redis.aclose()


def state_of(connection: HTTPConnection) -> GatewayState:
    state: GatewayState = connection.app.state.gateway  # set once, by gateway.app.create_app
    return state


async def _state(request: Request) -> GatewayState:
    return state_of(request)


async def _reads(request: Request) -> ProductReads:
    return state_of(request).reads


async def _cache(request: Request) -> ReadCache | None:
    return state_of(request).cache


State = Annotated[GatewayState, Depends(_state)]
Reads = Annotated[ProductReads, Depends(_reads)]
Cache = Annotated[ReadCache | None, Depends(_cache)]
