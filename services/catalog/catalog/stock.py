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

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from catalog.model import products, reservation_items, reservations
from catalog.ports import ReservationRecord

_P = products.c
_AVAILABLE = _P.on_hand - _P.reserved


class StockCounters:
    """Mixed into ProductRepository: the counter updates of one product row."""

    session: Session

    def _apply(self, product_id: uuid.UUID, conditions: list[ColumnElement[bool]],
               **values: Any) -> int | None:
        statement = (update(products).where(_P.id == product_id, *conditions)
                     .values(**values, updated_at=func.now()).returning(_AVAILABLE))
        available: int | None = self.session.execute(statement).scalar()
        return available

    def reserve(self, product_id: uuid.UUID, quantity: int) -> int | None:
        return self._apply(product_id, [_P.deleted_at.is_(None), quantity <= _AVAILABLE],
                           reserved=_P.reserved + quantity, version=_P.version + 1)

    def unreserve(self, product_id: uuid.UUID, quantity: int) -> int:
        return _present(self._apply(product_id, [], reserved=_P.reserved - quantity,
                                    version=_P.version + 1))

    def consume(self, product_id: uuid.UUID, quantity: int) -> int:
        # Reserved units leave the warehouse: `available` (and so the version) does not change.
        return _present(self._apply(product_id, [], on_hand=_P.on_hand - quantity,
                                    reserved=_P.reserved - quantity))

    def take(self, product_id: uuid.UUID, quantity: int) -> int | None:
        return self._apply(product_id, [quantity <= _AVAILABLE],
                           on_hand=_P.on_hand - quantity, version=_P.version + 1)

    def restock(self, product_id: uuid.UUID, quantity: int) -> int:
        return _present(self._apply(product_id, [], on_hand=_P.on_hand + quantity,
                                    version=_P.version + 1))


def _present(available: int | None) -> int:
    if available is None:
        raise LookupError("product row missing under a reservation")
    return available


_R = reservations.c
_HEAD = select(_R.id, _R.status, _R.expires_at, _R.restocked_at)


class ReservationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, reservation_id: str, expires_at: dt.datetime,
               status: str = "active") -> bool:
        # A concurrent insert of the same id waits here until the first one commits.
        created = self.session.execute(
            pg_insert(reservations).values(id=reservation_id, status=status,
                                           expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["id"]).returning(_R.id)).first()
        return created is not None

    def add_items(self, reservation_id: str, items: dict[uuid.UUID, int]) -> None:
        self.session.execute(insert(reservation_items), [
            {"reservation_id": reservation_id, "product_id": pid, "quantity": qty}
            for pid, qty in items.items()])

    def get(self, reservation_id: str) -> ReservationRecord | None:
        head = self.session.execute(
            _HEAD.where(_R.id == reservation_id).with_for_update()).first()
        return None if head is None else self._records([head])[0]

    def set_status(self, reservation_id: str, status: str) -> None:
        self.session.execute(update(reservations).where(_R.id == reservation_id)
                             .values(status=status, updated_at=func.now()))

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
