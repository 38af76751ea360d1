"""Stock counters on PostgreSQL (the reservations themselves: reservation_store.py).

No oversell under concurrency: every counter change is one conditional UPDATE
(`... WHERE on_hand - reserved >= :quantity`), which PostgreSQL re-checks on the newest row
version after waiting for a concurrent writer's row lock; callers touch products in ascending id
order, so two reservations never wait on each other in a cycle. The CHECK constraint
`0 <= reserved <= on_hand` backs this up.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Integer, Update, bindparam, func, update
from sqlalchemy.orm import Session

from catalog.model import PRODUCT_COLUMNS, products
from catalog.ports import Row

_P = products.c
_AVAILABLE = _P.on_hand - _P.reserved


_QTY = bindparam("qty", type_=Integer)


def _counter(*conditions: ColumnElement[bool], **values: Any) -> Update:
    """One counter UPDATE, built once at import (its quantity and product id are bound at
    execution): built per call, the statement's construction and cache key cost more CPU than
    PostgreSQL spends running it."""
    return (update(products).where(_P.id == bindparam("pid"), *conditions)
            .values(**values, updated_at=func.now()))


# A reservation's answer lists its products as they are now: the whole row comes back.
_RESERVE = _counter(_P.deleted_at.is_(None), _QTY <= _AVAILABLE,
                    reserved=_P.reserved + _QTY, version=_P.version + 1
                    ).returning(*PRODUCT_COLUMNS)
_UNRESERVE = _counter(reserved=_P.reserved - _QTY, version=_P.version + 1).returning(_AVAILABLE)
_TAKE = _counter(_QTY <= _AVAILABLE, on_hand=_P.on_hand - _QTY, version=_P.version + 1
                 ).returning(_AVAILABLE)
_RESTOCK = _counter(on_hand=_P.on_hand + _QTY, version=_P.version + 1).returning(_AVAILABLE)


class StockCounters:
    """Mixed into ProductRepository: the counter updates of one product row."""

    session: Session

    def _apply(self, statement: Update, product_id: uuid.UUID, quantity: int) -> int | None:
        available: int | None = self.session.execute(
            statement, {"pid": product_id, "qty": quantity}).scalar()
        return available

    def reserve(self, product_id: uuid.UUID, quantity: int) -> Row | None:
        return self.session.execute(
            _RESERVE, {"pid": product_id, "qty": quantity}).mappings().first()

    def unreserve(self, product_id: uuid.UUID, quantity: int) -> int:
        return _present(self._apply(_UNRESERVE, product_id, quantity))

    def take(self, product_id: uuid.UUID, quantity: int) -> int | None:
        return self._apply(_TAKE, product_id, quantity)

    def restock(self, product_id: uuid.UUID, quantity: int) -> int:
        return _present(self._apply(_RESTOCK, product_id, quantity))


def _present(available: int | None) -> int:
    if available is None:
        raise LookupError("product row missing under a reservation")
    return available
