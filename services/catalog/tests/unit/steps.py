"""Steps the use-case tests share: make a product, reserve, read what is available. Loaded by
conftest.py under the name `catalog_unit_steps`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from catalog_fake_products import NOW

from catalog import reservations, use_cases
from catalog.schemas import NewProduct, Reservation, parse

TTL = 900.0


def product(tx: Any, sku: str, stock: int) -> uuid.UUID:
    with tx:
        return uuid.UUID(use_cases.create_product(tx, parse(NewProduct, {
            "sku": sku, "name": sku, "price": 100, "stock": stock}))["id"])


def reserve(tx: Any, rid: str, items: list[tuple[uuid.UUID, int]],
            now: dt.datetime = NOW) -> dict[str, Any]:
    request = parse(Reservation, {"reservation_id": rid, "items": [
        {"product_id": str(pid), "quantity": qty} for pid, qty in items]})
    with tx:
        return reservations.reserve_stock(tx, request, now, TTL)


def available(state: Any, pid: uuid.UUID) -> int:
    row = state.products[pid]
    return int(row["on_hand"] - row["reserved"])
