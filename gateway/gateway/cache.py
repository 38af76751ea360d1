"""The gateway's catalog read cache: product documents and first pages of listings.

Entries are invalidated at once by catalog events (gateway.cache_events) and by this gateway's
own writes; the TTL only bounds staleness if an event is late. No entry is served older than the
TTL, and a load that started before an invalidation of its key is not stored (each load carries
the `epoch` it started at). Refresh ahead: a hit past half the TTL on an entry read at least
REFRESH_MIN_HITS times is refreshed in the background (a colder key would not be read again in
time: docs/benchmarks.md, product_mix). Products are loaded by gateway.product_reads; listings
here, with single flight (a listing load in flight at an invalidation is not shared after it).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

LOOKUPS = Counter("gateway_cache_lookups_total", "Catalog read cache lookups",
                  ["kind", "result"])  # kind: product | listing; result: hit | miss | bypass
_COUNT = {(kind, result): LOOKUPS.labels(kind, result)
          for kind in ("product", "listing") for result in ("hit", "miss", "bypass")}
MAX_ENTRIES = {"product": 20_000, "listing": 1_000}
MAX_DIRTY = 50_000
REFRESH_AFTER = 0.5  # of the TTL
REFRESH_MIN_HITS = 3  # a refresh of a key read less often costs more upstream calls than it saves

Loader = Callable[[], Awaitable[Any]]


@dataclass(slots=True)
class Entry:
    value: Any
    stored_at: float
    hits: int = 0

    def hit(self, age: float, ttl: float) -> bool:
        """Counts a hit; whether it is due a refresh ahead (past half the TTL, and hot)."""
        self.hits += 1
        return age >= ttl * REFRESH_AFTER and self.hits >= REFRESH_MIN_HITS


class _Store:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.capacity = MAX_ENTRIES[kind]
        self.entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self.inflight: dict[Hashable, asyncio.Task[Any]] = {}


class ReadCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.live = True  # False while invalidation events may be missed: reads bypass it
        self._products, self._listings = _Store("product"), _Store("listing")
        self._epoch = 0
        self._dirty: OrderedDict[Hashable, int] = OrderedDict()  # product -> epoch invalidated
        self._dirty_floor = 0  # every product forgotten from _dirty was invalidated before this
        self._listings_epoch = 0

    @property
    def epoch(self) -> int:
        return self._epoch

    def lookup_product(self, product_id: str) -> tuple[Any, bool]:
        """(the cached value or None, whether a hit is due a refresh); counted."""
        if not self.live:
            _COUNT["product", "bypass"].inc()
            return None, False
        entry = self._products.entries.get(product_id)
        if entry is not None:
            age = self.clock() - entry.stored_at
            if age < self.ttl:
                _COUNT["product", "hit"].inc()
                return entry.value, entry.hit(age, self.ttl)
        _COUNT["product", "miss"].inc()
        return None, False

    def store_product(self, product_id: str, value: Any, epoch: int) -> None:
        """Keeps a product loaded since `epoch`, unless it was invalidated since."""
        if self.storable_product(product_id, epoch):
            self._keep(self._products, product_id, value)

    def storable_product(self, product_id: str, epoch: int) -> bool:
        return self.live and self._dirty.get(product_id, self._dirty_floor) <= epoch

    async def listing(self, key: Hashable, load: Loader) -> Any:
        return await self._get(self._listings, key, load)

    def invalidate_product(self, product_id: str) -> None:
        """A product changed: its document and every listing page (which may show it)."""
        self._epoch += 1
        self._products.entries.pop(product_id, None)
        self._dirty[product_id] = self._epoch
        self._dirty.move_to_end(product_id)
        while len(self._dirty) > MAX_DIRTY:
            _, epoch = self._dirty.popitem(last=False)
            self._dirty_floor = max(self._dirty_floor, epoch)
        self.invalidate_listings()

    def invalidate_listings(self) -> None:
        self._epoch += 1
        self._listings_epoch = self._epoch
        self._listings.entries.clear()
        self._listings.inflight.clear()

    def clear(self) -> None:
        """Forget everything (e.g. the event subscription was down: events may be lost)."""
        self._epoch += 1
        self._dirty.clear()
        self._dirty_floor = self._listings_epoch = self._epoch
        for store in (self._products, self._listings):
            store.entries.clear()
            store.inflight.clear()

    async def _get(self, store: _Store, key: Hashable, load: Loader) -> Any:
        # Listings only (products: lookup_product and store_product).
        if not self.live:
            _COUNT[store.kind, "bypass"].inc()
            return await load()
        entry = store.entries.get(key)
        age = self.clock() - entry.stored_at if entry is not None else self.ttl
        if entry is not None and age < self.ttl:
            _COUNT[store.kind, "hit"].inc()
            if entry.hit(age, self.ttl) and key not in store.inflight:
                self._start(store, key, load)
            return entry.value
        _COUNT[store.kind, "miss"].inc()
        task = store.inflight.get(key) or self._start(store, key, load)
        return await asyncio.shield(task)

    def _start(self, store: _Store, key: Hashable, load: Loader) -> asyncio.Task[Any]:
        token = self._epoch

        async def run() -> Any:
            try:
                value = await load()
                if store.inflight.get(key) is task and self.live \
                        and self._listings_epoch <= token:
                    self._keep(store, key, value)
                return value
            finally:
                if store.inflight.get(key) is task:
                    del store.inflight[key]

        task = asyncio.ensure_future(run())
        task.add_done_callback(_retrieve)  # a background refresh's error is not an event
        store.inflight[key] = task
        return task

    def _keep(self, store: _Store, key: Hashable, value: Any) -> None:
        store.entries[key] = Entry(value, self.clock())
        store.entries.move_to_end(key)
        while len(store.entries) > store.capacity:
            store.entries.popitem(last=False)


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
