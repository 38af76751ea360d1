"""The gateway's ASGI application: an asyncio front door speaking nameko RPC to the services."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from gateway import headers, openapi_document, problems, wiring
from gateway.config import GatewaySettings, settings
from gateway.middleware import EdgeMiddleware
from gateway.routes import admin, auth, bench, catalog, ops, overview, payments
from gateway.routes.ops import NotReady
from gateway.routes.payments_schemas import Declined
from gateway.routing import FastLane, JsonRoute
from gateway.schemas import Problem
from gateway.shedding import Admission
from gateway.state import GatewayState
from shared import logs, tracing

API_VERSION = "0.1.0"
# The cheapest, busiest reads skip FastAPI's routing machinery (docs/gateway.md, Fast lane).
HOT_ROUTES = ("/products/{product_id}", "/_bench/ping/{service}")
DESCRIPTION = ("The suite's public JSON API: accounts, catalog, payments. Errors are RFC 9457 "
               "`application/problem+json`; every answer carries `X-Request-ID`. The contract "
               "in words: docs/api/http-api.md in the repository.")


def create_app(config: GatewaySettings | None = None,
               state: GatewayState | None = None) -> FastAPI:
    """The app over `state` (tests pass one built on fakes: gateway.wiring.build)."""
    config = config or settings()
    logs.configure("gateway", config.log_level)
    tracing.configure("gateway")  # the SDK only with an OTLP endpoint
    state = state or wiring.build(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        # What start-up made is kept out of the collector's sight: full collections walking it
        # stalled every request in flight (docs/benchmarks.md, gateway).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await state.stop()

    # FastAPI's native OpenTelemetry off: EdgeMiddleware records the request's span (ADR 0024:
    # cheaper than an ASGI instrumentation); with export off it only cost a check per request.
    app = FastAPI(title="Commerce suite gateway", version=API_VERSION, lifespan=lifespan,
                  description=DESCRIPTION,
                  default_response_class=ORJSONResponse, docs_url="/docs",
                  openapi_url="/openapi.json", redoc_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.gateway = state  # the one attribute; routes get it through gateway.state
    app.router.route_class = JsonRoute
    problems.install(app)
    app.include_router(ops.router)
    app.include_router(catalog.router)
    app.include_router(auth.router)
    app.include_router(payments.router)
    app.include_router(overview.router)
    app.include_router(admin.router)
    if config.bench_routes:
        app.include_router(bench.router)
    openapi_document.install(app, (Problem, Declined, NotReady))
    # Two layers of our own (each wraps every request): Admission innermost (shedding before
    # the rate limit's Redis round trip, then the route, hot ones through the fast lane), CORS
    # outside it when configured (preflights are never shed or limited), EdgeMiddleware
    # outermost (request id, metrics that count the 429s and 503s too, log line, headers).
    lane = FastLane.build(app, HOT_ROUTES)
    app.add_middleware(Admission, max_inflight=config.max_inflight, lane=lane,
                       limiter=state.limiter)
    headers.add_cors(app, config)
    app.add_middleware(EdgeMiddleware, max_body_bytes=config.max_body_bytes,
                       hsts_max_age=config.hsts_max_age, trace=config.tracing_enabled,
                       metrics_enabled=config.metrics_enabled)
    return app
