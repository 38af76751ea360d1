"""Routing: JSON request bodies enforced before FastAPI parses them (415, not 422), and the
fast lane of the hot GET routes."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from typing import Any, get_type_hints

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.convertors import StringConvertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from gateway import problems
from gateway.problems import is_json
from shared.errors import SuiteError, UnsupportedMediaType


class JsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def json_only(request: Request) -> Response:
            if not is_json(request.headers.get("content-type", "")):
                raise UnsupportedMediaType("Send the body as application/json.")
            return await handler(request)

        return json_only


class FastLane:
    """Serves the hot GET routes (a cached product read, the bench ping) without FastAPI's
    per-request routing and dependency machinery (docs/benchmarks.md has its cost), with the
    same outcome: the same endpoint function, called with the same arguments, its errors
    answered by the same handlers (gateway.problems). A route qualifies only when FastAPI would
    do nothing for it but pass path parameters and optional headers, as strings, and the
    results of async dependencies of the request alone (gateway.state's), to an endpoint
    that returns a Response itself, and when no route before it could match its paths; any
    other request goes through FastAPI as before."""

    def __init__(self, routes: list[_Lean]) -> None:
        self.routes = routes

    @classmethod
    def build(cls, app: FastAPI, hot: Iterable[str]) -> FastLane:
        wanted = set(hot)
        lean: list[_Lean] = []
        earlier: list[Any] = []
        for route in _flat(app.router.routes):
            if isinstance(route, APIRoute) and route.path in wanted and _qualifies(route) \
                    and not any(_may_overlap(route, other) for other in earlier):
                lean.append(_Lean(route, app.router))
            earlier.append(route)
        return cls(lean)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answers the request if one of the lane's routes is for it; False otherwise."""
        if scope.get("root_path"):
            return False  # FastAPI matches the path without it: leave that to FastAPI
        for route in self.routes:  # a handful at most
            if scope["method"] in route.methods and (match := route.regex.match(scope["path"])):
                await route(match.groupdict(), scope, receive, send)
                return True
        return False


class _Lean:
    def __init__(self, route: APIRoute, router: Any) -> None:
        dependant = route.dependant
        self.route, self.router, self.call = route, router, route.endpoint
        self.methods, self.regex = route.methods or set(), route.path_regex
        self.request_name = dependant.request_param_name
        self.headers = [(p.name, p.alias.lower().encode("latin-1"))
                        for p in dependant.header_params]
        self.dependencies: list[tuple[str, Callable[[Request], Awaitable[Any]]]] = [
            (d.name, d.call) for d in dependant.dependencies if d.name and d.call]

    async def __call__(self, kwargs: dict[str, Any], scope: Scope, receive: Receive,
                       send: Send) -> None:
        # kwargs: the path parameters, strings (StringConvertor converts nothing)
        scope.update(route=self.route, endpoint=self.call, path_params=dict(kwargs))
        scope.setdefault("router", self.router)
        request = Request(scope, receive, send)
        for name, raw in self.headers:  # FastAPI takes the first of repeated headers
            kwargs[name] = next((v.decode("latin-1") for n, v in scope["headers"] if n == raw),
                                None)
        if self.request_name:
            kwargs[self.request_name] = request
        try:
            for name, call in self.dependencies:
                kwargs[name] = await call(request)
            response = await self.call(**kwargs)
        except SuiteError as error:
            response = await problems.suite_error(request, error)
        except StarletteHTTPException as error:
            response = await problems.http_error(request, error)
        await response(scope, receive, send)


def _flat(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:  # FastAPI keeps included routers as nodes of their own
        inner = getattr(route, "original_router", None)
        yield from _flat(inner.routes) if inner is not None else (route,)


def _of_the_request(sub: Any) -> bool:
    """An async dependency of one parameter, the request, with no dependencies of its own."""
    return (sub.name is not None and inspect.iscoroutinefunction(sub.call)
            and sub.request_param_name is not None
            and len(inspect.signature(sub.call).parameters) == 1)


def _qualifies(route: APIRoute) -> bool:
    d = route.dependant
    plain = (all(_of_the_request(sub) for sub in d.dependencies) and not d.query_params
             and not d.cookie_params
             and not d.body_params and route.body_field is None and not route.dependencies
             and d.websocket_param_name is None and d.response_param_name is None
             and d.background_tasks_param_name is None and d.security_scopes_param_name is None
             and d.http_connection_param_name is None)
    strings = all(p.field_info.annotation is str and p.alias == p.name for p in d.path_params) \
        and all(type(c) is StringConvertor for c in route.param_convertors.values())
    optional = all(p.field_info.annotation == str | None and p.field_info.default is None
                   for p in d.header_params)
    returns = get_type_hints(route.endpoint).get("return")
    return (plain and strings and optional and inspect.iscoroutinefunction(route.endpoint)
            and isinstance(returns, type) and issubclass(returns, Response))


def _may_overlap(route: APIRoute, other: Any) -> bool:
    """Whether `other`, tried before `route`, could take one of its requests (conservative)."""
    methods = getattr(other, "methods", None)
    path = getattr(other, "path", None)
    if path is None or isinstance(other, Mount):
        return True  # a mount (a prefix) or anything unknown: assume it could
    if methods is not None and not methods & route.methods:
        return False
    mine, theirs = route.path.split("/"), path.split("/")
    return len(mine) == len(theirs) and all(
        a == b or a.startswith("{") or b.startswith("{") for a, b in zip(mine, theirs, strict=True))
