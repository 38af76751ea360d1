"""The fake state and the products' fake (the other ports' fakes: fakes.py); rows are kept as
the table holds them. Loaded by conftest.py as `catalog_fake_products`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from catalog.domain import Page, Product, Reservation

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
FIELDS = [f.name for f in dataclasses.fields(Product)]


class FakeState:
    def __init__(self) -> None:
        self.inbox: set[tuple[str, str]] = set()
        self.products: dict[uuid.UUID, dict[str, Any]] = {}  # rows, as the table holds them
        self.reservations: dict[str, Reservation] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.movements: list[tuple[uuid.UUID, int, str]] = []
        self.clock = NOW


def as_product(row: dict[str, Any]) -> Product:
    return Product(**{name: row[name] for name in FIELDS})


class FakeProducts:
    """catalog.ports.Products and ProductReads over FakeState."""

    def __init__(self, state: FakeState) -> None:
        self.s = state

    def get(self, product_id: uuid.UUID) -> Product | None:
        row = self.s.products.get(product_id)
        return as_product(row) if row else None

    def get_many(self, product_ids: list[uuid.UUID]) -> list[Product]:
        return [as_product(self.s.products[p]) for p in product_ids if p in self.s.products]

    def _live(self, category: str | None) -> list[dict[str, Any]]:
        rows = [r for r in self.s.products.values() if r["deleted_at"] is None
                and category in (None, r["category"])]
        return sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)

    def page(self, limit: int, after: Any, category: str | None) -> Page:
        keyed = [((r["created_at"], r["id"]), r) for r in self._live(category)]
        return _page(keyed, limit, after)

    def search(self, q: str, limit: int, after: Any, category: str | None) -> Page:
        words = q.lower().split()
        found = [r for r in self._live(category)
                 if all(w in (r["name"] + " " + r["description"]).lower() for w in words)]
        keyed = sorted((((1.0, r["id"]), r) for r in found), key=lambda kr: kr[0], reverse=True)
        return _page(keyed, limit, after)

    def insert(self, values: dict[str, Any]) -> Product | None:
        if any(r["sku"] == values["sku"] for r in self._live(None)):
            return None
        self.s.clock += dt.timedelta(seconds=1)
        row = {"reserved": 0, "version": 1, "created_at": self.s.clock,
               "updated_at": self.s.clock, "deleted_at": None, **values}
        self.s.products[row["id"]] = row
        return as_product(row)

    def update(self, product_id: uuid.UUID, changes: dict[str, Any],
               expected_version: int | None) -> Product | None:
        row = self.s.products.get(product_id)
        if row is None or row["deleted_at"] is not None:
            return None
        if expected_version is not None and row["version"] != expected_version:
            return None
        row.update(changes, version=row["version"] + 1)
        return as_product(row)

    def soft_delete(self, product_id: uuid.UUID) -> bool:
        row = self.s.products.get(product_id)
        if row is None or row["deleted_at"] is not None:
            return False
        row.update(deleted_at=self.s.clock, version=row["version"] + 1)
        return True

    def adjust_on_hand(self, product_id: uuid.UUID, delta: int) -> Product | None:
        row = self.s.products.get(product_id)
        if row is None or row["deleted_at"] is not None or row["on_hand"] + delta < row["reserved"]:
            return None
        row.update(on_hand=row["on_hand"] + delta, version=row["version"] + 1)
        return as_product(row)

    def record_movement(self, product_id: uuid.UUID, delta: int, reason: str) -> None:
        self.s.movements.append((product_id, delta, reason))

    def _counter(self, product_id: uuid.UUID, on_hand: int, reserved: int, live: bool = False,
                 need: int = 0, bump: bool = True) -> int | None:
        row = self.s.products.get(product_id)
        if row is None or (live and row["deleted_at"] is not None):
            return None
        if row["on_hand"] - row["reserved"] < need:
            return None
        row["on_hand"] += on_hand
        row["reserved"] += reserved
        assert 0 <= row["reserved"] <= row["on_hand"], "CHECK constraint"
        row["version"] += int(bump)
        return int(row["on_hand"] - row["reserved"])

    def reserve(self, product_id: uuid.UUID, quantity: int) -> Product | None:
        if self._counter(product_id, 0, quantity, live=True, need=quantity) is None:
            return None
        return self.get(product_id)

    def unreserve(self, product_id: uuid.UUID, quantity: int) -> int:
        return self._counter(product_id, 0, -quantity) or 0

    def sell(self, product_id: uuid.UUID, quantity: int) -> int:
        return self._counter(product_id, -quantity, -quantity, bump=False) or 0  # as the CTE

    def take(self, product_id: uuid.UUID, quantity: int) -> int | None:
        return self._counter(product_id, -quantity, 0, need=quantity)

    def restock(self, product_id: uuid.UUID, quantity: int) -> int:
        return self._counter(product_id, quantity, 0) or 0


def _page(keyed: list[tuple[Any, dict[str, Any]]], limit: int, after: Any) -> Page:
    if after is not None:
        keyed = [(key, row) for key, row in keyed if key < after]
    more = len(keyed) > limit
    keyed = keyed[:limit]
    return Page([as_product(row) for _, row in keyed], keyed[-1][0] if more else None)
