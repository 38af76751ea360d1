"""The gateway's ASGI application: an asyncio front door speaking nameko RPC to the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from gateway import breaker, headers, problems, ratelimit
from gateway.config import GatewaySettings, settings
from gateway.metrics import MetricsMiddleware
from gateway.middleware import EdgeMiddleware
from gateway.routes import auth, bench, catalog, ops, overview, payments
from gateway.routing import JsonRoute
from gateway.rpc import RpcClient
from gateway.shedding import SheddingMiddleware
from shared import logs, tracing

API_VERSION = "0.1.0"


def create_app(config: GatewaySettings | None = None) -> FastAPI:
    config = config or settings()
    logs.configure("gateway", config.log_level)
    tracing.configure()  # OTLP export only if OTEL_EXPORTER_OTLP_ENDPOINT is set

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.rpc = RpcClient(config.amqp_uri, config.rpc_timeout)
        await app.state.rpc.start()
        app.state.limiter = ratelimit.build(config)
        yield
        await app.state.rpc.stop()
        if app.state.limiter is not None:
            await app.state.limiter.redis.aclose()

    app = FastAPI(title="Commerce suite gateway", version=API_VERSION, lifespan=lifespan,
                  default_response_class=ORJSONResponse, docs_url="/docs",
                  openapi_url="/openapi.json", redoc_url=None)
    app.state.settings = config
    app.state.breakers = breaker.build(config)
    app.router.route_class = JsonRoute
    problems.install(app)
    app.include_router(ops.router)
    app.include_router(catalog.router)
    app.include_router(auth.router)
    app.include_router(payments.router)
    app.include_router(overview.router)
    if config.bench_routes:
        app.include_router(bench.router)
    # Added innermost first: the request id wraps everything, metrics count the 429s too;
    # shedding before the rate limit's Redis round trip, CORS headers on both their answers.
    app.add_middleware(ratelimit.RateLimitMiddleware)
    app.add_middleware(SheddingMiddleware, max_inflight=config.max_inflight)
    headers.add_cors(app, config)
    if config.metrics_enabled:
        app.add_middleware(MetricsMiddleware)
    app.add_middleware(EdgeMiddleware, max_body_bytes=config.max_body_bytes,
                       trace=config.tracing_enabled)
    app.add_middleware(headers.SecurityHeadersMiddleware, hsts_max_age=config.hsts_max_age)
    return app
