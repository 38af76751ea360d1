"""The catalog read cache itself: invalidation and listings (products through it:
test_product_reads.py)."""

from __future__ import annotations

import asyncio

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


def test_invalidating_a_product_drops_it_and_every_listing():
    async def scenario():
        up = Upstream()
        cache = ReadCache(ttl=60)
        for product in ("p1", "p2"):
            cache.store_product(product, "v1", cache.epoch)
        await cache.listing("first", up.load)
        up.version = 2
        cache.invalidate_product("p1")
        assert cache.lookup_product("p1") == (None, False)
        assert cache.lookup_product("p2") == ("v1", False)
        assert await cache.listing("first", up.load) == "v2"
    run(scenario())


def test_listings_hit_until_the_ttl_and_concurrent_misses_share_one_load():
    async def scenario():
        clock, up = Clock(), Upstream()
        cache = ReadCache(ttl=1.0, clock=clock)
        up.blocking = True
        waiters = [asyncio.ensure_future(cache.listing("first", up.load)) for _ in range(5)]
        await settle()
        assert up.calls == 1
        up.gates[0].set()
        assert await asyncio.gather(*waiters) == ["v1"] * 5
        up.blocking, up.version = False, 2
        assert await cache.listing("first", up.load) == "v1"
        clock.now += 1.01
        assert await cache.listing("first", up.load) == "v2" and up.calls == 2
    run(scenario())


def test_a_listing_load_in_flight_during_an_invalidation_is_not_stored():
    async def scenario():
        up = Upstream()
        up.blocking = True
        cache = ReadCache(ttl=60)
        before = asyncio.ensure_future(cache.listing("first", up.load))
        await settle()
        up.version = 2
        cache.invalidate_listings()
        after = asyncio.ensure_future(cache.listing("first", up.load))  # must not join
        await settle()
        assert up.calls == 2
        for gate in up.gates:
            gate.set()
        assert await before == "v1" and await after == "v2"
        up.blocking = False
        assert await cache.listing("first", up.load) == "v2"
    run(scenario())



