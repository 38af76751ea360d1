"""Single-product reads through a ReadBatcher: `catalog.get_product` alone, `get_products` for
several at once (gateway.batching). GATEWAY_BATCH_READS=false turns it off."""

from __future__ import annotations

from typing import Any

from gateway import upstream
from gateway.batching import Context, ReadBatcher
from shared.errors import NotFound


def product_batcher(state: Any, max_batch: int = 64) -> ReadBatcher:
    async def one(product_id: str, context: Context) -> Any:
        return await upstream.call_with(state, context, "catalog", "get_product", product_id)

    async def many(product_ids: list[str], context: Context) -> dict[str, Any]:
        products = await upstream.call_with(state, context, "catalog", "get_products",
                                            product_ids)
        return {product["id"]: product for product in products}

    return ReadBatcher(one, many, missing=not_found, max_batch=max_batch)


def not_found(product_id: str) -> NotFound:
    # Word for word what catalog.get_product answers for an unknown id.
    return NotFound(f"No product {product_id}.", extra={"product_id": product_id})
