"""An app instance per test, built without a broker: no lifespan runs, so nothing connects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.testclient import TestClient

from gateway import wiring
from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.schemas import StrictModel

UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1/"
_GATEWAY_VARIABLES = ("GATEWAY_MAX_BODY", "GATEWAY_RPC_TIMEOUT", "GATEWAY_READY_TIMEOUT")


class Order(StrictModel):
    """A body for the test-only JSON route (the production app has no such route)."""

    sku: str
    quantity: int


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> GatewaySettings:
    # The contract's defaults (64 KiB bodies, ...) are what these tests check.
    for name in _GATEWAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # No limiter: these tests never reach Redis (gateway/tests/integration checks the limits).
    return GatewaySettings(AMQP_URI=UNREACHABLE_BROKER, RATE_LIMIT_ENABLED=False)


@pytest.fixture
def fake_rpc() -> Any:
    """A fake of gateway.ports.Rpc for the app; None: a real client, never started."""
    return None


@pytest.fixture
def app(settings: GatewaySettings, fake_rpc: Any) -> FastAPI:
    return create_app(settings, wiring.build(settings, rpc=fake_rpc))


@pytest.fixture
def test_app(app: FastAPI) -> FastAPI:
    """The real app plus test-only routes: a strict JSON body and one that fails unexpectedly."""

    @app.post("/test/orders", status_code=201)
    async def create_order(order: Order) -> Order:
        return order

    @app.get("/test/crash")
    async def crash() -> None:
        raise RuntimeError("database password is hunter2")

    # Routers included with FastAPI's own route class, as some production routers are: the app's
    # `route_class` does not reach their routes, the conventions must hold all the same.
    plain = APIRouter(prefix="/test/plain")

    @plain.post("/orders", status_code=201)
    async def create_plain_order(order: Order) -> Order:
        return order

    app.include_router(plain)
    return app


@pytest.fixture
def client(test_app: FastAPI) -> Iterator[TestClient]:
    # No `with`: the lifespan (broker connection) does not run.
    yield TestClient(test_app, raise_server_exceptions=False)
