"""Rate limits against the real Redis on this machine, under a throwaway key prefix."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from redis.asyncio import Redis

from gateway import wiring
from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.ratelimit import Budget, RateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


def _limiter(url: str = REDIS_URL, per_minute: int = 3) -> RateLimiter:
    return RateLimiter(Redis.from_url(url, socket_connect_timeout=0.25),
                       Budget("auth", per_minute), Budget("default", 1000),
                       prefix=f"test-{uuid.uuid4().hex}")


def test_budget_is_spent_then_refused_with_reset():
    async def scenario():
        limiter = _limiter(per_minute=3)
        results = [await limiter.spend(limiter.auth_budget, "ip:10.0.0.1") for _ in range(4)]
        other = await limiter.spend(limiter.auth_budget, "ip:10.0.0.2")
        await limiter.redis.aclose()
        return results, other

    results, other = asyncio.run(scenario())
    assert [allowed for allowed, _, _ in results] == [True, True, True, False]
    assert [remaining for _, remaining, _ in results] == [2, 1, 0, 0]
    assert all(1 <= reset <= 60 for _, _, reset in results)
    assert other[0] is True, "another client has its own budget"


def test_unreachable_redis_fails_open():
    async def scenario():
        limiter = _limiter(url="redis://127.0.0.1:1/0", per_minute=1)
        results = [await limiter.spend(limiter.auth_budget, "ip:10.0.0.1") for _ in range(5)]
        await limiter.redis.aclose()
        return results

    assert all(allowed for allowed, _, _ in asyncio.run(scenario()))


def test_auth_routes_answer_429_problem_with_retry_after():
    settings = GatewaySettings(RATE_LIMIT_AUTH_PER_MINUTE=2, AMQP_URI="amqp://127.0.0.1:1/")
    limiter = _limiter(per_minute=2)
    app = create_app(settings, wiring.build(settings, limiter=limiter))

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            codes = [(await client.get("/auth/nothing")).status_code for _ in range(2)]
            refused = await client.get("/auth/nothing")
            probe = await client.get("/healthz")
        await limiter.redis.aclose()
        return codes, refused, probe

    codes, refused, probe = asyncio.run(scenario())
    assert 429 not in codes
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.json()["status"] == 429
    assert probe.status_code == 200, "health probes are never rate limited"

