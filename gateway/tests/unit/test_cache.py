"""The catalog read cache: TTL, invalidation, and no stale fill after an invalidation."""

from __future__ import annotations

from gateway.cache import ReadCache


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_entries_expire_after_the_ttl():
    clock = Clock()
    cache = ReadCache(ttl=1.0, clock=clock)
    cache.put_product("p1", "v1", cache.token())
    cache.put_listing(("20", None, None), "page", cache.token())
    assert cache.product("p1") == "v1" and cache.listing(("20", None, None)) == "page"
    clock.now += 1.01
    assert cache.product("p1") is None and cache.listing(("20", None, None)) is None


def test_invalidating_a_product_drops_it_and_every_listing():
    cache = ReadCache(ttl=60)
    cache.put_product("p1", "v1", cache.token())
    cache.put_product("p2", "v2", cache.token())
    cache.put_listing("first", "page", cache.token())
    cache.invalidate_product("p1")
    assert cache.product("p1") is None and cache.product("p2") == "v2"
    assert cache.listing("first") is None


def test_a_read_in_flight_during_an_invalidation_does_not_store_its_stale_answer():
    cache = ReadCache(ttl=60)
    token = cache.token()  # the read starts
    cache.invalidate_product("p1")  # an update lands meanwhile
    cache.put_product("p1", "stale", token)
    cache.put_listing("first", "stale page", token)
    assert cache.product("p1") is None and cache.listing("first") is None
    cache.put_product("p1", "fresh", cache.token())  # the next read may fill it
    assert cache.product("p1") == "fresh"


def test_other_products_still_fill_while_one_is_invalidated():
    cache = ReadCache(ttl=60)
    token = cache.token()
    cache.invalidate_product("p1")
    cache.put_product("p2", "v2", token)
    assert cache.product("p2") == "v2"


def test_a_cache_that_may_miss_events_is_bypassed_and_cleared():
    cache = ReadCache(ttl=60)
    cache.put_product("p1", "v1", cache.token())
    cache.live = False
    assert cache.product("p1") is None
    cache.put_product("p2", "v2", cache.token())
    cache.clear()
    cache.live = True
    assert cache.product("p1") is None and cache.product("p2") is None
