"""In-memory fakes of the catalog's ports (catalog.ports), with real rollback semantics."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

import pytest

from catalog.ports import Page, ReservationRecord

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


class FakeProducts:
    def __init__(self, state: FakeState) -> None:
        self.s = state

    def get(self, product_id: uuid.UUID) -> dict[str, Any] | None:
        row = self.s.products.get(product_id)
        return dict(row) if row else None

    def get_many(self, product_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
        return [dict(self.s.products[p]) for p in product_ids if p in self.s.products]

    def _live(self) -> list[dict[str, Any]]:
        rows = [r for r in self.s.products.values() if r["deleted_at"] is None]
        return sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)

    def page(self, limit: int, after: Any, category: str | None) -> Page:
        rows = [r for r in self._live() if category is None or r["category"] == category]
        if after is not None:
            rows = [r for r in rows if (r["created_at"], r["id"]) < after]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, (rows[-1]["created_at"], rows[-1]["id"]) if more else None)

    def search(self, q: str, limit: int, after: Any, category: str | None) -> Page:
        words = q.lower().split()
        rows = [dict(r, rank=1.0) for r in self._live()
                if all(w in (r["name"] + " " + r["description"]).lower() for w in words)]
        rows.sort(key=lambda r: r["id"], reverse=True)
        if after is not None:
            rows = [r for r in rows if (r["rank"], r["id"]) < after]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, (rows[-1]["rank"], rows[-1]["id"]) if more else None)

    def insert(self, values: dict[str, Any]) -> dict[str, Any] | None:
        if any(r["sku"] == values["sku"] for r in self._live()):
            return None
        self.s.clock += dt.timedelta(seconds=1)
        row = {"reserved": 0, "version": 1, "created_at": self.s.clock,
               "updated_at": self.s.clock, "deleted_at": None, **values}
        self.s.products[row["id"]] = row
        return dict(row)

    def update(self, product_id: uuid.UUID, changes: dict[str, Any],
               expected_version: int | None) -> dict[str, Any] | None:
        row = self.s.products.get(product_id)
        if row is None or row["deleted_at"] is not None:
            return None
        if expected_version is not None and row["version"] != expected_version:
            return None
        row.update(changes, version=row["version"] + 1)
        return dict(row)

    def soft_delete(self, product_id: uuid.UUID) -> bool:
        row = self.s.products.get(product_id)
        if row is None or row["deleted_at"] is not None:
            return False
        row.update(deleted_at=self.s.clock, version=row["version"] + 1)
        return True

    def adjust_on_hand(self, product_id: uuid.UUID, delta: int) -> dict[str, Any] | None:
        row = self.s.products.get(product_id)
        if row is None or row["deleted_at"] is not None or row["on_hand"] + delta < row["reserved"]:
            return None
        row.update(on_hand=row["on_hand"] + delta, version=row["version"] + 1)
        return dict(row)

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

    def reserve(self, product_id: uuid.UUID, quantity: int) -> dict[str, Any] | None:
        if self._counter(product_id, 0, quantity, live=True, need=quantity) is None:
            return None
        return self.get(product_id)

    def unreserve(self, product_id: uuid.UUID, quantity: int) -> int:
        return self._counter(product_id, 0, -quantity) or 0

    def consume(self, product_id: uuid.UUID, quantity: int) -> int:
        return self._counter(product_id, -quantity, -quantity, bump=False) or 0

    def take(self, product_id: uuid.UUID, quantity: int) -> int | None:
        return self._counter(product_id, -quantity, 0, need=quantity)

    def restock(self, product_id: uuid.UUID, quantity: int) -> int:
        return self._counter(product_id, quantity, 0) or 0


class FakeReservations:
    def __init__(self, state: FakeState) -> None:
        self.s = state

    def create(self, reservation_id: str, expires_at: dt.datetime, status: str = "active",
               items: dict[uuid.UUID, int] | None = None) -> bool:
        if reservation_id in self.s.reservations:
            return False
        self.s.reservations[reservation_id] = ReservationRecord(reservation_id, status,
                                                                expires_at, False,
                                                                dict(items or {}))
        return True

    def get(self, reservation_id: str) -> ReservationRecord | None:
        record = self.s.reservations.get(reservation_id)
        return copy.deepcopy(record) if record else None

    def _replace(self, reservation_id: str, **changes: Any) -> None:
        old = self.s.reservations[reservation_id]
        self.s.reservations[reservation_id] = ReservationRecord(
            **{**old.__dict__, "items": dict(old.items), **changes})

    def commit_active(self, reservation_id: str) -> bool:
        record = self.s.reservations.get(reservation_id)
        if record is None or record.status != "active":
            return False
        products = FakeProducts(self.s)
        for product_id, quantity in sorted(record.items.items()):
            products.consume(product_id, quantity)
            products.record_movement(product_id, -quantity, f"sold: reservation {reservation_id}")
        self.set_status(reservation_id, "committed")
        return True

    def set_status(self, reservation_id: str, status: str) -> None:
        self._replace(reservation_id, status=status)

    def mark_restocked(self, reservation_id: str) -> None:
        self._replace(reservation_id, restocked=True)

    def due(self, now: dt.datetime, limit: int) -> list[ReservationRecord]:
        due = [r for r in self.s.reservations.values()
               if r.status == "active" and r.expires_at <= now]
        return copy.deepcopy(sorted(due, key=lambda r: r.expires_at)[:limit])


class FakeEvents:
    def __init__(self, state: FakeState) -> None:
        self.s = state

    def record(self, event_type: str, fields: dict[str, Any]) -> None:
        self.s.events.append((event_type, dict(fields)))


class FakeInbox:
    def __init__(self, state: FakeState) -> None:
        self.s = state

    def claim(self, handler: str, message_id: str) -> bool:
        if (handler, message_id) in self.s.inbox:
            return False
        self.s.inbox.add((handler, message_id))
        return True


class FakeState:
    def __init__(self) -> None:
        self.inbox: set[tuple[str, str]] = set()
        self.products: dict[uuid.UUID, dict[str, Any]] = {}
        self.reservations: dict[str, ReservationRecord] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.movements: list[tuple[uuid.UUID, int, str]] = []
        self.clock = NOW


class FakeTx:
    """A unit of work over FakeState: an exception in the block restores the state."""

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


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest.fixture
def tx(state: FakeState) -> FakeTx:
    return FakeTx(state)


class FakeSales:
    """catalog.ports.Sales over FakeState: all or nothing, like the one statement."""

    def __init__(self, state: FakeState) -> None:
        self.s, self.calls = state, 0

    def commit_paid(self, reservation_id: str, handler: str, message_id: str) -> bool:
        self.calls += 1
        record = self.s.reservations.get(reservation_id)
        if record is None or record.status != "active" or (handler, message_id) in self.s.inbox:
            return False
        with FakeTx(self.s) as tx:
            assert tx.inbox.claim(handler, message_id)
            assert tx.reservations.commit_active(reservation_id)
        return True


@pytest.fixture
def sales(state: FakeState) -> FakeSales:
    return FakeSales(state)


@pytest.fixture
def reader(state: FakeState) -> FakeProducts:
    return FakeProducts(state)
