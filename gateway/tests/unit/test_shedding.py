"""Load shedding in process: over GATEWAY_MAX_INFLIGHT, 503 + Retry-After at once; probes pass."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from gateway.app import create_app
from gateway.config import GatewaySettings


def shed_total() -> float:
    return REGISTRY.get_sample_value("gateway_load_shed_total") or 0.0


def slow_app(settings: GatewaySettings, cap: int, gate: asyncio.Event) -> FastAPI:
    app = create_app(settings.model_copy(update={"max_inflight": cap}))

    @app.get("/test/slow")
    async def slow() -> dict[str, str]:
        await gate.wait()
        return {"status": "done"}

    return app


def test_requests_over_the_cap_are_shed_at_once(settings: GatewaySettings):
    before = shed_total()

    async def scenario():
        gate = asyncio.Event()
        transport = httpx.ASGITransport(app=slow_app(settings, 2, gate))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            held = [asyncio.create_task(client.get("/test/slow")) for _ in range(2)]
            await asyncio.sleep(0.2)  # both are in flight now
            shed = await asyncio.gather(*(client.get("/test/slow") for _ in range(5)))
            probes = [await client.get(path) for path in ("/healthz", "/metrics")]
            gate.set()
            return await asyncio.gather(*held), shed, probes

    held, shed, probes = asyncio.run(scenario())
    assert [r.status_code for r in held] == [200, 200]
    for response in shed:
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["request_id"] == response.headers["x-request-id"]
    assert [r.status_code for r in probes] == [200, 200], "probes are never shed"
    assert shed_total() - before == 5


def test_zero_switches_shedding_off(settings: GatewaySettings):
    async def scenario():
        gate = asyncio.Event()
        transport = httpx.ASGITransport(app=slow_app(settings, 0, gate))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            calls = [asyncio.create_task(client.get("/test/slow")) for _ in range(20)]
            await asyncio.sleep(0.2)
            gate.set()
            return await asyncio.gather(*calls)

    assert {r.status_code for r in asyncio.run(scenario())} == {200}
