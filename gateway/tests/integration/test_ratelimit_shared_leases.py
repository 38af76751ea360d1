"""Leased budget slices (gateway.ratelimit) against the real Redis, two limiters standing in for
two gateway processes under one throwaway prefix: exact totals, one round trip per slice."""

from __future__ import annotations

import asyncio
import time
import uuid

from redis.asyncio import Redis

from gateway.ratelimit import WINDOW_SECONDS, Budget, RateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"
PER_MINUTE = 600  # slices of 10


def limiter(prefix: str) -> RateLimiter:
    return RateLimiter(Redis.from_url(REDIS_URL), Budget("auth", 120),
                       Budget("default", PER_MINUTE), prefix=prefix)


def fresh_window() -> None:
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < 10:
        time.sleep(left + 0.1)


def test_slices_cost_one_round_trip_each_and_remaining_is_exact_for_one_process():
    fresh_window()

    async def scenario():
        prefix = f"test-{uuid.uuid4().hex}"
        one = limiter(prefix)
        results = [await one.spend(one.default_budget, "ip:10.0.0.1") for _ in range(25)]
        window = int(time.time() // WINDOW_SECONDS)
        counted = await one.redis.get(f"{prefix}:rl:default:ip:10.0.0.1:{window}")
        await one.redis.aclose()
        return results, int(counted)

    results, counted = asyncio.run(scenario())
    assert all(allowed for allowed, _, _ in results)
    assert [remaining for _, remaining, _ in results] == list(range(599, 574, -1))
    assert counted == 30, "three slices of 10 for 25 requests"


def test_two_processes_share_the_budget_exactly_never_late():
    fresh_window()

    async def scenario():
        prefix = f"test-{uuid.uuid4().hex}"
        a, b = limiter(prefix), limiter(prefix)
        allowed = 0
        for i in range(PER_MINUTE + 50):
            one = a if i % 3 else b  # uneven split
            ok, _, _ = await one.spend(one.default_budget, "ip:10.0.0.2")
            allowed += ok
        after = [await one.spend(one.default_budget, "ip:10.0.0.2") for one in (a, b)]
        for one in (a, b):
            await one.redis.aclose()
        return allowed, after

    allowed, after = asyncio.run(scenario())
    assert allowed == PER_MINUTE, "every slice was spent by someone: the total is exact"
    assert [ok for ok, _, _ in after] == [False, False]
    assert all(1 <= reset <= 60 and remaining == 0 for _, remaining, reset in after)


def test_small_budgets_lease_one_request_at_a_time():
    assert Budget("auth", 119).lease_size == 1
    assert Budget("auth", 120).lease_size == 2
    assert Budget("default", 6000).lease_size == 100
    assert Budget("default", 10**9).lease_size == 100
