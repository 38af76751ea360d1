"""The catalog read cache: TTL bound, invalidation, single flight, refresh ahead, and no stale
fill (or stale sharing) after an invalidation."""

from __future__ import annotations

import asyncio

import pytest

from gateway.cache import ReadCache


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Upstream:
    """A loader whose answers the test releases one by one."""

    def __init__(self):
        self.calls = 0
        self.version = 1
        self.gates: list[asyncio.Event] = []
        self.blocking = False

    async def load(self):
        self.calls += 1
        version = self.version
        if self.blocking:
            gate = asyncio.Event()
            self.gates.append(gate)
            await gate.wait()
        return f"v{version}"


def run(coro):
    return asyncio.run(coro)


async def settle():
    """Let every ready task run (a request task, then the load task it starts)."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_hits_until_the_ttl_then_loads_again():
    async def scenario():
        clock, up = Clock(), Upstream()
        cache = ReadCache(ttl=1.0, clock=clock)
        assert await cache.product("p1", up.load) == "v1"
        assert await cache.product("p1", up.load) == "v1" and up.calls == 1
        up.version = 2
        clock.now += 1.01
        assert await cache.product("p1", up.load) == "v2" and up.calls == 2
    run(scenario())


def test_a_hit_past_half_the_ttl_refreshes_in_the_background():
    async def scenario():
        clock, up = Clock(), Upstream()
        cache = ReadCache(ttl=1.0, clock=clock)
        await cache.product("p1", up.load)
        up.version = 2
        clock.now += 0.6
        assert await cache.product("p1", up.load) == "v1"  # still fresh enough: served
        await settle()  # the refresh runs
        assert up.calls == 2
        clock.now += 0.6  # the first entry would have expired; the refreshed one has not
        assert await cache.product("p1", up.load) == "v2" and up.calls == 2
    run(scenario())


def test_concurrent_misses_share_one_load():
    async def scenario():
        up = Upstream()
        up.blocking = True
        cache = ReadCache(ttl=60)
        waiters = [asyncio.ensure_future(cache.product("p1", up.load)) for _ in range(5)]
        await settle()
        assert up.calls == 1
        up.gates[0].set()
        assert await asyncio.gather(*waiters) == ["v1"] * 5
    run(scenario())


def test_invalidating_a_product_drops_it_and_every_listing():
    async def scenario():
        up = Upstream()
        cache = ReadCache(ttl=60)
        await cache.product("p1", up.load)
        await cache.product("p2", up.load)
        await cache.listing("first", up.load)
        up.version = 2
        cache.invalidate_product("p1")
        assert await cache.product("p1", up.load) == "v2"
        assert await cache.product("p2", up.load) == "v1"
        assert await cache.listing("first", up.load) == "v2"
    run(scenario())


def test_a_load_in_flight_during_an_invalidation_is_not_stored_nor_shared():
    async def scenario():
        up = Upstream()
        up.blocking = True
        cache = ReadCache(ttl=60)
        before = asyncio.ensure_future(cache.product("p1", up.load))  # reads v1 upstream
        await settle()
        up.version = 2
        cache.invalidate_product("p1")  # our own PATCH committed meanwhile
        after = asyncio.ensure_future(cache.product("p1", up.load))  # must not join `before`
        await settle()
        assert up.calls == 2
        for gate in up.gates:
            gate.set()
        assert await before == "v1" and await after == "v2"
        up.blocking = False
        assert await cache.product("p1", up.load) == "v2"
    run(scenario())


def test_errors_reach_the_waiters_and_are_not_cached():
    async def scenario():
        cache = ReadCache(ttl=60)

        async def failing():
            raise LookupError("no such product")

        with pytest.raises(LookupError):
            await cache.product("p1", failing)
        up = Upstream()
        assert await cache.product("p1", up.load) == "v1"
    run(scenario())


def test_a_cache_that_may_miss_events_is_bypassed_and_cleared():
    async def scenario():
        up = Upstream()
        cache = ReadCache(ttl=60)
        await cache.product("p1", up.load)
        cache.live = False
        up.version = 2
        assert await cache.product("p1", up.load) == "v2"
        cache.clear()
        cache.live = True
        up.version = 3
        assert await cache.product("p1", up.load) == "v3"
    run(scenario())
