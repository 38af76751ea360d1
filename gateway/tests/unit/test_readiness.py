"""/readyz fans out to the services at most once a second however often it is asked: the last
breakdown is reused for a second, and askers arriving during a fan-out share it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from fastapi import FastAPI

from gateway import wiring
from gateway.app import create_app
from gateway.config import SERVICES, GatewaySettings
from shared.errors import ServiceUnavailable

ASKERS = 25
SECONDS = 2.5


class CountingRpc:
    """Stands in for gateway.rpc.RpcClient: counts the pings, each taking a little while."""

    connected = True

    def __init__(self, down: frozenset[str] = frozenset()) -> None:
        self.pings = 0
        self.down = down

    async def call(self, service: str, method: str, **_: Any) -> None:
        assert method == "ping"
        self.pings += 1
        await asyncio.sleep(0.05)
        if service in self.down:
            raise ServiceUnavailable(f"{service} is not answering.")


async def ask_for(app: FastAPI, seconds: float) -> tuple[list[httpx.Response], float]:
    transport = httpx.ASGITransport(app=app)
    answers: list[httpx.Response] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            answers += await asyncio.gather(*(client.get("/readyz") for _ in range(ASKERS)))
        return answers, time.monotonic() - started


def _app(settings: GatewaySettings, rpc: CountingRpc) -> FastAPI:
    return create_app(settings, wiring.build(settings, rpc=rpc))


def test_a_readiness_flood_costs_at_most_one_fan_out_a_second(settings: GatewaySettings):
    rpc = CountingRpc()

    answers, elapsed = asyncio.run(ask_for(_app(settings, rpc), SECONDS))

    assert len(answers) >= 2 * ASKERS
    assert {answer.status_code for answer in answers} == {200}
    fan_outs = rpc.pings / len(SERVICES)
    assert fan_outs == int(fan_outs), "a fan-out pings every service"
    assert 1 <= fan_outs <= elapsed + 1, f"{fan_outs} fan-outs in {elapsed:.1f} s"


def test_the_shared_answer_still_tells_which_service_is_down(settings: GatewaySettings):
    rpc = CountingRpc(down=frozenset({"payments"}))

    answers, _ = asyncio.run(ask_for(_app(settings, rpc), 0.1))

    for answer in answers:
        assert answer.status_code == 503
        body = answer.json()
        assert body["services"] == {"auth": "up", "catalog": "up", "payments": "unavailable"}
        assert body["request_id"] == answer.headers["x-request-id"], "each asker's own id"
