"""In-memory fakes of the catalog's ports (catalog.ports), with real rollback semantics.

Loaded by conftest.py (pytest's importlib mode) and used through its fixtures.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from catalog.domain import Page, Product, Reservation, Status
from shared.contracts.events import PaymentRefunded, PaymentSucceeded

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


class FakeReservations:
    def __init__(self, state: FakeState) -> None:
        self.s = state

    def create(self, reservation: Reservation) -> bool:
        if reservation.id in self.s.reservations:
            return False
        known = {p: q for p, q in reservation.items.items() if p in self.s.products}
        self.s.reservations[reservation.id] = dataclasses.replace(reservation, items=known)
        return True

    def get(self, reservation_id: str) -> Reservation | None:
        return self.s.reservations.get(reservation_id)

    def commit_active(self, reservation_id: str) -> bool:
        reservation = self.s.reservations.get(reservation_id)
        if reservation is None or reservation.status != "active":
            return False
        products = FakeProducts(self.s)
        for product_id, quantity in sorted(reservation.items.items()):
            products.sell(product_id, quantity)
            products.record_movement(product_id, -quantity, f"sold: reservation {reservation_id}")
        self.set_status(reservation_id, "committed")
        return True

    def set_status(self, reservation_id: str, status: Status) -> None:
        self._replace(reservation_id, status=status)

    def mark_restocked(self, reservation_id: str) -> None:
        self._replace(reservation_id, restocked=True)

    def due(self, now: dt.datetime, limit: int) -> list[Reservation]:
        due = [r for r in self.s.reservations.values() if r.status == "active"
               and r.expires_at <= now]
        return sorted(due, key=lambda r: r.expires_at)[:limit]

    def _replace(self, reservation_id: str, **changes: Any) -> None:
        old = self.s.reservations[reservation_id]
        self.s.reservations[reservation_id] = dataclasses.replace(old, **changes)


class FakeEvents:
    def __init__(self, state: FakeState) -> None:
        self.s = state

    def record(self, event_type: str, fields: dict[str, Any]) -> None:
        self.s.events.append((event_type, dict(fields)))


class FakeInbox:
    def __init__(self, state: FakeState) -> None:
        self.s = state

    def claim(self, handler: str, message_id: str) -> bool:
        claimed = (handler, message_id) not in self.s.inbox
        self.s.inbox.add((handler, message_id))
        return claimed


class FakeTx:
    """A transaction over FakeState: an exception in the block restores the state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.products = FakeProducts(state)
        self.reservations = FakeReservations(state)
        self.events = FakeEvents(state)
        self.inbox = FakeInbox(state)

    def __enter__(self) -> FakeTx:
        self._saved = copy.deepcopy(self.state.__dict__)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.state.__dict__.update(self._saved)


class FakeStore:
    """catalog.ports.Store over FakeState; commit_paid is all or nothing, like its statement."""

    def __init__(self, state: FakeState) -> None:
        self.s, self.paid_calls = state, 0

    @contextmanager
    def transaction(self) -> Iterator[FakeTx]:
        with FakeTx(self.s) as tx:
            yield tx

    def commit_paid(self, reservation_id: str, handler: str, message_id: str) -> bool:
        self.paid_calls += 1
        reservation = self.s.reservations.get(reservation_id)
        if reservation is None or reservation.status != "active" or \
                (handler, message_id) in self.s.inbox:
            return False
        with self.transaction() as tx:
            assert tx.inbox.claim(handler, message_id)
            assert tx.reservations.commit_active(reservation_id)
        return True


def succeeded(payment_id: uuid.UUID, event_id: uuid.UUID | None = None) -> PaymentSucceeded:
    """payments' payment_succeeded as the bus contract has it."""
    return PaymentSucceeded(event_id=event_id or uuid.uuid4(), occurred_at=NOW, schema_version=1,
                            payment_id=payment_id, user_id=uuid.uuid4(), amount=100,
                            currency="USD", items=[])


def refunded(payment_id: uuid.UUID, event_id: uuid.UUID | None = None,
             restock: bool = True) -> PaymentRefunded:
    return PaymentRefunded(event_id=event_id or uuid.uuid4(), occurred_at=NOW, schema_version=1,
                           payment_id=payment_id, refund_id=uuid.uuid4(), amount=100,
                           currency="USD", restock=restock)
