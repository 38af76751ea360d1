"""Product use cases: plain functions over the ports (an open transaction, a reader).

Every write records its event in the same transaction (the outbox), so the event is published
if and only if the change commits.
"""

from __future__ import annotations

import uuid
from typing import Any

from catalog import errors, views
from catalog.domain import Page, Product
from catalog.ports import ProductReads, Transaction
from catalog.schemas import MAX_STOCK, ListQuery, NewProduct, ProductChanges, StockAdjustment


def get_product(reader: ProductReads, product_id: uuid.UUID) -> dict[str, Any]:
    """Deleted products still resolve (payment history); they come back with `deleted: true`."""
    found = reader.get(product_id)
    if found is None:
        raise errors.product_not_found(product_id)
    return views.product(found)


def get_products(reader: ProductReads, product_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """The products found, in the order asked; unknown ids are left out."""
    by_id = {found.id: found for found in reader.get_many(product_ids)}
    return [views.product(by_id[pid]) for pid in product_ids if pid in by_id]


def list_products(reader: ProductReads, query: ListQuery) -> dict[str, Any]:
    page: Page
    if query.q:
        after = views.decode_cursor(query.cursor, "r") if query.cursor else None
        page, kind = reader.search(query.q, query.limit, after, query.category), "r"
    else:
        after = views.decode_cursor(query.cursor, "t") if query.cursor else None
        page, kind = reader.page(query.limit, after, query.category), "t"
    return {"items": [views.product(found) for found in page.products],
            "next_cursor": views.encode_cursor(kind, page.last_key) if page.last_key else None}


def create_product(tx: Transaction, new: NewProduct) -> dict[str, Any]:
    values = new.model_dump(exclude={"stock"})
    created = tx.products.insert({**values, "id": uuid.uuid4(), "on_hand": new.stock})
    if created is None:
        raise errors.sku_taken(new.sku)
    if new.stock:
        tx.products.record_movement(created.id, new.stock, "initial stock")
    tx.events.record("product_created", {
        "product_id": str(created.id), "sku": created.sku, "name": created.name,
        "price": created.price, "currency": created.currency})
    return views.product(created)


def update_product(tx: Transaction, product_id: uuid.UUID, changes: ProductChanges,
                   expected_version: int | None = None) -> dict[str, Any]:
    fields = changes.changed()
    updated = tx.products.update(product_id, fields, expected_version)
    if updated is None:
        raise errors.version_mismatch(live(tx, product_id).version)
    tx.events.record("product_updated",
                     {"product_id": str(product_id), "version": updated.version, **fields})
    return views.product(updated)


def delete_product(tx: Transaction, product_id: uuid.UUID) -> None:
    if not tx.products.soft_delete(product_id):
        raise errors.product_not_found(product_id)
    tx.events.record("product_deleted", {"product_id": str(product_id)})


def adjust_stock(tx: Transaction, product_id: uuid.UUID,
                 change: StockAdjustment) -> dict[str, Any]:
    adjusted = tx.products.adjust_on_hand(product_id, change.delta)
    if adjusted is None:
        current = live(tx, product_id)
        if current.on_hand + change.delta > MAX_STOCK:
            raise errors.above_maximum(product_id, MAX_STOCK)
        raise errors.below_reserved(product_id, current.reserved)
    tx.products.record_movement(product_id, change.delta, change.reason)
    stock_changed(tx, product_id, adjusted.available)
    return views.product(adjusted)


def stock_changed(tx: Transaction, product_id: uuid.UUID, available: int) -> None:
    tx.events.record("stock_changed",
                     {"product_id": str(product_id), "available": max(available, 0)})


def live(tx: Transaction, product_id: uuid.UUID) -> Product:
    """The product as it is now; ProductNotFound when it is gone or deleted."""
    found = tx.products.get(product_id)
    if found is None or found.deleted:
        raise errors.product_not_found(product_id)
    return found
