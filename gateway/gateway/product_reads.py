"""ProductReads: the one way to read a product document. It owns the read cache's product side,
the coalescing of misses (gateway.batching) and the upstream call, so a read is one object's
work: a hit is answered from memory; a miss waits on a future of its own until the batch it
joined lands (no task or shield of its own per miss), and the batch stores what it fetched.

Values are rendered once per fetch: (JSON body, ETag, deleted). GATEWAY_BATCH_READS=false:
each key is its own `catalog.get_product` call (concurrent misses of one key still share it when
the cache is on); with the cache off too, every read is its own call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from gateway.batching import Context, ReadBatcher
from gateway.cache import ReadCache
from shared.errors import ProductNotFound

if TYPE_CHECKING:
    from gateway.upstream import Upstream

Rendered = tuple[bytes, str, bool]  # body, ETag, deleted
MAX_BATCH = 64
ContextOf = Callable[[], Context]  # made only when a read calls upstream (a hit never does)


class ProductReads:
    def __init__(self, upstream: Upstream, cache: ReadCache | None, batch: bool = True,
                 max_batch: int = MAX_BATCH) -> None:
        self.upstream, self.cache, self.batch = upstream, cache, batch
        epoch = (lambda: cache.epoch) if cache is not None else (lambda: 0)
        self.batcher = ReadBatcher(self._one, self._many, not_found,
                                   max_batch=max_batch if batch else 1,
                                   fetched=cache.store_product if cache is not None else None,
                                   epoch=epoch)

    async def get(self, product_id: str, context_of: ContextOf) -> Rendered:
        cache = self.cache
        if cache is None:
            if not self.batch:
                return await self._one(product_id, context_of())
            value: Rendered = await self.batcher.load(product_id, context_of())
            return value
        cached, refresh = cache.lookup_product(product_id)
        if cached is not None:
            if refresh:
                self.batcher.refresh(product_id, context_of())
            hit: Rendered = cached
            return hit
        flight = self.batcher.flight(product_id)
        if flight is not None and flight.sent_at is not None \
                and not cache.storable_product(product_id, flight.sent_at):
            self.batcher.forget(product_id)  # sent before an invalidation: not to be shared
        loaded: Rendered = await self.batcher.load(product_id, context_of())
        return loaded

    async def _one(self, product_id: str, context: Context) -> Rendered:
        return render(await self.upstream.call(context, "catalog", "get_product", product_id))

    async def _many(self, product_ids: list[str], context: Context) -> dict[str, Rendered]:
        products = await self.upstream.call(context, "catalog", "get_products", product_ids)
        return {product["id"]: render(product) for product in products}


def render(product: dict[str, Any]) -> Rendered:
    public = {key: value for key, value in product.items() if key != "deleted"}
    return orjson.dumps(public), f'"{product["version"]}"', bool(product.get("deleted"))


def not_found(product_id: str) -> ProductNotFound:
    # The wording of catalog.get_product for an unknown id (docs/gateway.md: shared wording).
    return ProductNotFound(f"No product {product_id}.", extra={"product_id": product_id})
