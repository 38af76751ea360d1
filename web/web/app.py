"""The storefront and admin console: a Starlette app rendering Jinja2 pages (ADR 0022).

It talks to the suite only through the gateway's public HTTP API (web.api): no service code,
no bus. Errors become pages: the API's message and request id, a 403 page for non-admins and
refused forms, and a redirect to sign in when a session is needed or has ended.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from web.api import Api, ApiError
from web.config import WebSettings, settings
from web.edge import Edge
from web.metrics import Metrics, serve
from web.pages import CsrfRefused, problem, render, see_other
from web.routes import account, admin_other, admin_products, cart, shop
from web.sessions import SessionStore
from web.visit import AdminRequired, SignInRequired, Visit

STATIC = Path(__file__).parent / "static"


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status == 401:
        await Visit(request).sign_out_locally()
        return await _sign_in_required(request, exc)
    template = {403: "403.html", 404: "404.html"}.get(exc.status, "error.html")
    return await render(Visit(request), template, exc.status, error=problem(exc))


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    target = request.url.path if request.method == "GET" else "/"
    return see_other(f"/signin?next={quote(target)}")


async def _forbidden(request: Request, exc: Exception) -> Response:
    return await render(Visit(request), "403.html", 403, csrf_refused=isinstance(exc, CsrfRefused))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    name = "404.html" if exc.status_code == 404 else "error.html"
    error = {"message": exc.detail, "request_id": request.state.request_id,
             "status": exc.status_code}
    return await render(Visit(request), name, exc.status_code, error=error)


async def _bad_input(request: Request, exc: Exception) -> Response:
    error = {"message": "The form was not filled in correctly.", "status": 400,
             "request_id": request.state.request_id}
    return await render(Visit(request), "error.html", 400, error=error)


def create_app(config: WebSettings | None = None) -> Starlette:
    config = config or settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.api = Api(config.api_url, config.api_timeout)
        redis = Redis.from_url(config.redis_url)
        app.state.sessions = SessionStore(redis, config.redis_prefix, config.session_ttl)
        metrics = serve(config.host, config.metrics_port)
        yield
        if metrics is not None:
            metrics.shutdown()
        await app.state.api.close()
        await redis.aclose()

    routes = [*shop.routes, *cart.routes, *account.routes, *admin_products.routes,
              *admin_other.routes, Mount("/static", StaticFiles(directory=STATIC), name="static")]
    handlers = {ApiError: _api_error, SignInRequired: _sign_in_required,
                AdminRequired: _forbidden, CsrfRefused: _forbidden, HTTPException: _http_error,
                ValueError: _bad_input}
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers=handlers)
    app.state.settings = config
    app.add_middleware(Metrics)
    app.add_middleware(Edge, secure=config.secure_cookies,
                       session_ttl=config.session_ttl)
    return app
