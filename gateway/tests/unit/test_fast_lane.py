"""The fast lane (gateway.routing.FastLane) answers exactly as FastAPI would for its routes."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request, Response
from starlette.testclient import TestClient

import gateway.app
from gateway import wiring
from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.routing import FastLane
from shared.errors import NotFound, ServiceUnavailable, UpstreamTimeout

PRODUCT = str(uuid.uuid4())


class Stub:
    """The RPC client: a product, or the error a test sets."""

    connected = True

    def __init__(self) -> None:
        self.error: Exception | None = None

    async def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.error is not None:
            raise self.error
        if method == "get_product":
            return {"id": args[0], "name": "Lamp", "price_cents": 1999, "version": 7,
                    "deleted": False}
        return {"service": service, "pong": True}


def _client(settings: GatewaySettings, lane: bool, monkeypatch: pytest.MonkeyPatch,
            stub: Stub) -> TestClient:
    monkeypatch.setattr(gateway.app, "HOT_ROUTES", gateway.app.HOT_ROUTES if lane else ())
    config = settings.model_copy(update={"bench_routes": True})
    app = create_app(config, wiring.build(config, rpc=stub))
    return TestClient(app, raise_server_exceptions=False)


def _comparable(response: Any) -> tuple[int, list[tuple[str, str]], Any]:
    headers = sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")
    if response.headers.get("content-type", "").endswith("json") and response.content:
        body = response.json()
        if isinstance(body, dict):
            body.pop("request_id", None)
        return response.status_code, headers, body
    return response.status_code, headers, response.content


@pytest.mark.parametrize(("method", "path", "headers", "error"), [
    ("GET", f"/products/{PRODUCT}", {}, None),
    ("GET", f"/products/{PRODUCT}", {"If-None-Match": 'W/"7", "3"'}, None),
    ("GET", f"/products/{PRODUCT}", {"If-None-Match": '"8"'}, None),
    ("GET", "/products/not-a-uuid", {}, None),
    ("GET", f"/products/{PRODUCT}", {}, lambda: NotFound("No such product.")),
    ("GET", f"/products/{PRODUCT}", {},
     lambda: ServiceUnavailable("down", extra={"retry_after": 3})),
    ("GET", f"/products/{PRODUCT}", {}, lambda: UpstreamTimeout("slow")),
    ("GET", f"/products/{PRODUCT}", {}, lambda: RuntimeError("secret hunter2")),
    ("GET", f"/products/{PRODUCT}", {"Authorization": "Bearer x"}, None),
    ("HEAD", f"/products/{PRODUCT}", {}, None),
    ("GET", f"/products/{PRODUCT}/", {}, None),
    ("GET", "/_bench/ping/catalog", {}, None),
    ("GET", "/_bench/ping/catalog", {}, lambda: ServiceUnavailable("down")),
])
def test_the_lane_answers_as_fastapi_does(settings: GatewaySettings,
                                          monkeypatch: pytest.MonkeyPatch, method: str,
                                          path: str, headers: dict[str, str],
                                          error: Callable[[], Exception] | None):
    answers = []
    for lane in (True, False):
        stub = Stub()
        stub.error = error() if error is not None else None  # a fresh one: handlers change it
        client = _client(settings, lane, monkeypatch, stub)
        answers.append(_comparable(client.request(method, path, headers=headers,
                                                  follow_redirects=False)))

    assert answers[0] == answers[1]


def test_the_hot_routes_take_the_lane_and_keep_their_template(
        settings: GatewaySettings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]):
    client = _client(settings, True, monkeypatch, Stub())
    lane = FastLane.build(client.app, gateway.app.HOT_ROUTES)  # type: ignore[arg-type]
    assert sorted(route.route.path for route in lane.routes) == sorted(gateway.app.HOT_ROUTES)

    logging.getLogger().setLevel(logging.INFO)  # pytest resets it after setup
    capsys.readouterr()
    response = client.get(f"/products/{PRODUCT}", headers={"X-Request-ID": "lane-1"})

    assert response.status_code == 200 and response.headers["x-request-id"] == "lane-1"
    lines = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    [line] = [line for line in lines if line["logger"] == "gateway.middleware"]
    assert line["method"] == "GET /products/{product_id}" and line["status"] == 200
    assert line["request_id"] == "lane-1" and len(line["trace_id"]) == 32


def _items_app(first: str | None = None) -> FastAPI:
    app = FastAPI()
    if first is not None:
        @app.get(first)
        async def special() -> dict[str, str]:
            return {"special": "yes"}

    @app.get("/items/{item_id}")
    async def item(request: Request, item_id: str) -> Response:
        return Response(item_id)

    return app


@pytest.mark.parametrize(("first", "taken"), [
    (None, True), ("/items/special", False), ("/items/{other}", False), ("/other/{x}", True),
    ("/items/{item_id}/parts", True),
])
def test_a_route_another_could_match_first_stays_with_fastapi(first: str | None, taken: bool):
    lane = FastLane.build(_items_app(first), ["/items/{item_id}"])

    assert bool(lane.routes) is taken


def test_routes_fastapi_must_work_for_stay_with_fastapi():
    app = FastAPI()

    @app.get("/query/{x}")
    async def with_query(x: str, limit: int = 3) -> Response:
        return Response(x)

    @app.get("/typed/{x}")
    async def typed(x: int) -> Response:
        return Response(str(x))

    @app.get("/model/{x}")
    async def model(x: str) -> dict[str, str]:
        return {"x": x}

    lane = FastLane.build(app, ["/query/{x}", "/typed/{x}", "/model/{x}"])

    assert lane.routes == []


async def of_request(request: Request) -> str:
    return "from the request"


async def of_query(limit: int = 3) -> int:
    return limit


def blocking(request: Request) -> str:  # FastAPI runs it in a thread: not the same outcome
    return "threaded"


def test_only_async_dependencies_of_the_request_alone_ride_the_lane():
    app = FastAPI()

    @app.get("/plain/{x}")
    async def plain(x: str, got: Annotated[str, Depends(of_request)]) -> Response:
        return Response(f"{x} {got}")

    @app.get("/query/{x}")
    async def query(x: str, got: Annotated[int, Depends(of_query)]) -> Response:
        return Response(x)

    @app.get("/sync/{x}")
    async def sync(x: str, got: Annotated[str, Depends(blocking)]) -> Response:
        return Response(x)

    lane = FastLane.build(app, ["/plain/{x}", "/query/{x}", "/sync/{x}"])

    assert [route.route.path for route in lane.routes] == ["/plain/{x}"]

    async def laned(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not await lane.serve(scope, receive, send):
            await app(scope, receive, send)

    assert TestClient(laned).get("/plain/a").text == "a from the request"
