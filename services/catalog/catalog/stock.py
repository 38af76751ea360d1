"""Stock counters and reservations on PostgreSQL.

No oversell under concurrency: every counter change is one conditional UPDATE
(`... WHERE on_hand - reserved >= :quantity`), which PostgreSQL re-checks on the newest row
version after waiting for a concurrent writer's row lock; callers touch products in ascending id
order, so two reservations never wait on each other in a cycle. The CHECK constraint
`0 <= reserved <= on_hand` backs this up.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Update, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from catalog.model import products, reservation_items, reservations
from catalog.ports import ReservationRecord

_P = products.c
_AVAILABLE = _P.on_hand - _P.reserved


_QTY = bindparam("qty", type_=Integer)


def _counter(*conditions: ColumnElement[bool], **values: Any) -> Update:
    """One counter UPDATE, built once at import (its quantity and product id are bound at
    execution): built per call, the statement's construction and cache key cost more CPU than
    PostgreSQL spends running it."""
    return (update(products).where(_P.id == bindparam("pid"), *conditions)
            .values(**values, updated_at=func.now()).returning(_AVAILABLE))


_RESERVE = _counter(_P.deleted_at.is_(None), _QTY <= _AVAILABLE,
                    reserved=_P.reserved + _QTY, version=_P.version + 1)
_UNRESERVE = _counter(reserved=_P.reserved - _QTY, version=_P.version + 1)
_TAKE = _counter(_QTY <= _AVAILABLE, on_hand=_P.on_hand - _QTY, version=_P.version + 1)
_RESTOCK = _counter(on_hand=_P.on_hand + _QTY, version=_P.version + 1)


# Reserved units leave the warehouse, with their audit row, in one round trip. `available`
# (and so the version) does not change.
_SELL = text("""
    WITH p AS (UPDATE products SET on_hand = on_hand - :qty, reserved = reserved - :qty,
                                   updated_at = now()
               WHERE id = :pid RETURNING id, on_hand - reserved AS available),
         m AS (INSERT INTO stock_movements (product_id, delta, reason)
               SELECT id, -CAST(:qty AS int), :reason FROM p)
    SELECT available FROM p""")


class StockCounters:
    """Mixed into ProductRepository: the counter updates of one product row."""

    session: Session

    def _apply(self, statement: Update, product_id: uuid.UUID, quantity: int) -> int | None:
        available: int | None = self.session.execute(
            statement, {"pid": product_id, "qty": quantity}).scalar()
        return available

    def reserve(self, product_id: uuid.UUID, quantity: int) -> int | None:
        return self._apply(_RESERVE, product_id, quantity)

    def unreserve(self, product_id: uuid.UUID, quantity: int) -> int:
        return _present(self._apply(_UNRESERVE, product_id, quantity))

    def sell(self, product_id: uuid.UUID, quantity: int, reason: str) -> int:
        return _present(self.session.execute(
            _SELL, {"pid": product_id, "qty": quantity, "reason": reason}).scalar())

    def take(self, product_id: uuid.UUID, quantity: int) -> int | None:
        return self._apply(_TAKE, product_id, quantity)

    def restock(self, product_id: uuid.UUID, quantity: int) -> int:
        return _present(self._apply(_RESTOCK, product_id, quantity))


def _present(available: int | None) -> int:
    if available is None:
        raise LookupError("product row missing under a reservation")
    return available


_R = reservations.c
_I = reservation_items.c
_HEAD = select(_R.id, _R.status, _R.expires_at, _R.restocked_at)
# Built once: a statement made per call costs its construction and cache-key walk every time.
# The reservation and its items in one round trip; no items when the id exists already. An id
# that names no product gets no item row (its foreign key would fail the whole statement with a
# bare 500): reserving it then finds no product, and the caller gets NotFound.
_CREATE = text("""
    WITH r AS (INSERT INTO reservations (id, status, expires_at)
               VALUES (:rid, :status, :expires_at) ON CONFLICT (id) DO NOTHING RETURNING id),
         i AS (INSERT INTO reservation_items (reservation_id, product_id, quantity)
               SELECT r.id, v.product_id, v.quantity
               FROM r, unnest(CAST(:pids AS uuid[]), CAST(:qtys AS int[]))
                       AS v(product_id, quantity)
               JOIN products p ON p.id = v.product_id)
    SELECT id FROM r""")
# The head (locked) and its items in one round trip; only the reservation row is locked.
_GET = (select(_R.id, _R.status, _R.expires_at, _R.restocked_at, _I.product_id, _I.quantity)
        .select_from(reservations.outerjoin(reservation_items))
        .where(_R.id == bindparam("rid")).with_for_update(of=reservations))
_SET_STATUS = (update(reservations).where(_R.id == bindparam("rid"))
               .values(status=bindparam("new_status"), updated_at=func.now()))


class ReservationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, reservation_id: str, expires_at: dt.datetime, status: str = "active",
               items: dict[uuid.UUID, int] | None = None) -> bool:
        # A concurrent insert of the same id waits here until the first one commits.
        items = items or {}
        created = self.session.execute(_CREATE, {
            "rid": reservation_id, "status": status, "expires_at": expires_at,
            "pids": list(items), "qtys": list(items.values())}).first()
        return created is not None

    def get(self, reservation_id: str) -> ReservationRecord | None:
        rows = self.session.execute(_GET, {"rid": reservation_id}).all()
        if not rows:
            return None
        head = rows[0]
        items = {row.product_id: row.quantity for row in rows if row.product_id is not None}
        return ReservationRecord(head.id, head.status, head.expires_at,
                                 head.restocked_at is not None, items)

    def set_status(self, reservation_id: str, status: str) -> None:
        self.session.execute(_SET_STATUS, {"rid": reservation_id, "new_status": status})

    def mark_restocked(self, reservation_id: str) -> None:
        self.session.execute(update(reservations).where(_R.id == reservation_id)
                             .values(restocked_at=func.now(), updated_at=func.now()))

    def due(self, now: dt.datetime, limit: int) -> list[ReservationRecord]:
        heads = self.session.execute(
            _HEAD.where(_R.status == "active", _R.expires_at <= now)
            .order_by(_R.expires_at).limit(limit).with_for_update(skip_locked=True)).all()
        return self._records(heads)

    def _records(self, heads: Sequence[Any]) -> list[ReservationRecord]:
        if not heads:
            return []
        items: dict[str, dict[uuid.UUID, int]] = {head.id: {} for head in heads}
        rows = self.session.execute(
            select(reservation_items).where(reservation_items.c.reservation_id.in_(list(items))))
        for row in rows:
            items[row.reservation_id][row.product_id] = row.quantity
        return [ReservationRecord(head.id, head.status, head.expires_at,
                                  head.restocked_at is not None, items[head.id])
                for head in heads]
