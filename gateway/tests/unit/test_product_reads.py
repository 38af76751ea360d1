"""ProductReads over a fake upstream: the cache's TTL bound, refresh ahead, single flight, no
stale fill (or stale sharing) after an invalidation, errors never cached, bypass; misses of one
turn coalesced into one call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.cache import ReadCache
from gateway.product_reads import ProductReads
from shared.errors import NotFound, ServiceUnavailable

CONTEXT = {"request_id": "r1"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeUpstream:
    """Catalog answers at `version`; with `blocking`, each call waits for the test's gate."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.version = 1
        self.blocking = False
        self.gates: list[asyncio.Event] = []
        self.error: Exception | None = None

    async def call(self, context: dict[str, str], service: str, method: str, *args: Any,
                   **kwargs: Any) -> Any:
        self.calls.append((method, args[0]))
        version = self.version
        if self.blocking:
            gate = asyncio.Event()
            self.gates.append(gate)
            await gate.wait()
        if self.error is not None:
            raise self.error
        if method == "get_product":
            return {"id": args[0], "version": version}
        return [{"id": key, "version": version} for key in args[0] if key != "gone"]


def reads(up: FakeUpstream, cache: ReadCache | None) -> ProductReads:
    return ProductReads(up, cache)  # type: ignore[arg-type]


async def version(reads_: ProductReads, key: str = "p1") -> str:
    _, etag, _ = await reads_.get(key, lambda: CONTEXT)
    return etag


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_hits_until_the_ttl_then_loads_again():
    async def scenario() -> None:
        clock, up = Clock(), FakeUpstream()
        products = reads(up, ReadCache(ttl=1.0, clock=clock))
        assert await version(products) == '"1"'
        assert await version(products) == '"1"' and len(up.calls) == 1
        up.version = 2
        clock.now += 1.01
        assert await version(products) == '"2"' and len(up.calls) == 2
    asyncio.run(scenario())


def test_a_hot_hit_past_half_the_ttl_refreshes_in_the_background():
    async def scenario() -> None:
        clock, up = Clock(), FakeUpstream()
        products = reads(up, ReadCache(ttl=1.0, clock=clock))
        for _ in range(3):  # loaded, then read twice more: hot
            await version(products)
        up.version = 2
        clock.now += 0.6
        assert await version(products) == '"1"'  # still fresh enough: served
        await settle()  # the refresh runs
        assert len(up.calls) == 2
        clock.now += 0.6  # the first entry would have expired; the refreshed one has not
        assert await version(products) == '"2"' and len(up.calls) == 2
    asyncio.run(scenario())


def test_a_key_read_about_once_a_ttl_is_not_refreshed_ahead():
    async def scenario() -> None:
        clock, up = Clock(), FakeUpstream()
        products = reads(up, ReadCache(ttl=1.0, clock=clock))
        await version(products)
        clock.now += 0.6
        assert await version(products) == '"1"'
        await settle()
        assert len(up.calls) == 1
    asyncio.run(scenario())


def test_concurrent_misses_share_one_load_and_other_keys_join_its_batch():
    async def scenario() -> None:
        up = FakeUpstream()
        products = reads(up, ReadCache(ttl=60))
        waiters = [asyncio.ensure_future(version(products, key))
                   for key in ("p1", "p1", "p2", "p1")]
        await settle()
        assert up.calls == [("get_products", ["p1", "p2"])]
        assert await asyncio.gather(*waiters) == ['"1"'] * 4
    asyncio.run(scenario())


def test_a_read_of_a_key_on_its_way_joins_it():
    async def scenario() -> None:
        up = FakeUpstream()
        up.blocking = True
        products = reads(up, ReadCache(ttl=60))
        first = asyncio.ensure_future(version(products))
        await settle()
        second = asyncio.ensure_future(version(products))
        await settle()
        assert len(up.calls) == 1
        up.gates[0].set()
        assert [await first, await second] == ['"1"', '"1"']
    asyncio.run(scenario())


def test_a_load_in_flight_during_an_invalidation_is_not_stored_nor_shared():
    async def scenario() -> None:
        up = FakeUpstream()
        up.blocking = True
        cache = ReadCache(ttl=60)
        products = reads(up, cache)
        before = asyncio.ensure_future(version(products))  # reads version 1 upstream
        await settle()
        up.version = 2
        cache.invalidate_product("p1")  # our own PATCH committed meanwhile
        after = asyncio.ensure_future(version(products))  # must not join `before`
        await settle()
        assert len(up.calls) == 2
        for gate in up.gates:
            gate.set()
        assert await before == '"1"' and await after == '"2"'
        up.blocking = False
        assert await version(products) == '"2"'
    asyncio.run(scenario())


def test_errors_reach_the_waiters_and_are_not_cached():
    async def scenario() -> None:
        up = FakeUpstream()
        products = reads(up, ReadCache(ttl=60))
        up.error = ServiceUnavailable("catalog down")
        with pytest.raises(ServiceUnavailable):
            await version(products)
        up.error = None
        assert await version(products) == '"1"'
    asyncio.run(scenario())


def test_an_unknown_product_in_a_batch_is_not_found_for_its_reader_only():
    async def scenario() -> None:
        products = reads(FakeUpstream(), ReadCache(ttl=60))
        found, gone = await asyncio.gather(version(products, "p1"), version(products, "gone"),
                                           return_exceptions=True)
        assert found == '"1"'
        assert isinstance(gone, NotFound) and gone.detail == "No product gone."
    asyncio.run(scenario())


def test_a_cache_that_may_miss_events_is_bypassed_and_cleared():
    async def scenario() -> None:
        up = FakeUpstream()
        cache = ReadCache(ttl=60)
        products = reads(up, cache)
        await version(products)
        cache.live = False
        up.version = 2
        assert await version(products) == '"2"'
        cache.clear()
        cache.live = True
        up.version = 3
        assert await version(products) == '"3"'
    asyncio.run(scenario())


def test_without_a_cache_every_read_is_fetched():
    async def scenario() -> None:
        up = FakeUpstream()
        products = reads(up, None)
        await version(products)
        await version(products)
        assert len(up.calls) == 2
    asyncio.run(scenario())
