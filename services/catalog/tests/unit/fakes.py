"""In-memory fakes of the catalog's ports (catalog.ports), with real rollback semantics, and
payments' events as the bus contract has them. Loaded by conftest.py (pytest's importlib mode
puts no test directory on sys.path) as `catalog_unit_fakes`."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from catalog_fake_products import NOW, FakeProducts, FakeState

from catalog.domain import Reservation, Status
from shared.contracts.events import PaymentRefunded, PaymentSucceeded

__all__ = ["FakeProducts", "FakeState", "FakeStore", "FakeTx", "refunded", "succeeded"]

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
