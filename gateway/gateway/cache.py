"""The gateway's catalog read cache: product documents and first pages of listings.

Entries are invalidated by catalog events (gateway.cache_events: every gateway process has its
own queue) and by this gateway's own writes, at once; the TTL is only a safety net for a missed
event. A read that was in flight while its key was invalidated does not store its (possibly
stale) answer: `token()` before the upstream call, `put(..., token)` after it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

MAX_PRODUCTS = 20_000
MAX_LISTINGS = 1_000
MAX_DIRTY = 50_000


@dataclass(frozen=True, slots=True)
class Entry:
    value: Any
    expires_at: float


class _Lru:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[Hashable, Entry] = OrderedDict()

    def get(self, key: Hashable, now: float) -> Any:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self.entries[key]
            return None
        return entry.value

    def put(self, key: Hashable, entry: Entry) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)


class ReadCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.live = True  # False while invalidation events may be missed: reads bypass it
        self._products = _Lru(MAX_PRODUCTS)
        self._listings = _Lru(MAX_LISTINGS)
        self._epoch = 0
        self._dirty: OrderedDict[Hashable, int] = OrderedDict()  # key -> epoch invalidated
        self._dirty_floor = 0  # every key forgotten from _dirty was invalidated before this
        self._listings_epoch = 0

    # --- reads ------------------------------------------------------------------------------
    def token(self) -> int:
        return self._epoch

    def product(self, product_id: str) -> Any:
        return self._products.get(product_id, self.clock()) if self.live else None

    def listing(self, key: Hashable) -> Any:
        return self._listings.get(key, self.clock()) if self.live else None

    def put_product(self, product_id: str, value: Any, token: int) -> None:
        if self.live and self._dirty.get(product_id, self._dirty_floor) <= token:
            self._products.put(product_id, Entry(value, self.clock() + self.ttl))

    def put_listing(self, key: Hashable, value: Any, token: int) -> None:
        if self.live and self._listings_epoch <= token:
            self._listings.put(key, Entry(value, self.clock() + self.ttl))

    # --- invalidation -----------------------------------------------------------------------
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

    def clear(self) -> None:
        """Forget everything (e.g. the event subscription was down: events may be lost)."""
        self._epoch += 1
        self._dirty.clear()
        self._dirty_floor = self._listings_epoch = self._epoch
        self._products.entries.clear()
        self._listings.entries.clear()
