"""Product writes and stock counters inside the caller's transaction (a Session).

No oversell under concurrency: every counter change is one conditional UPDATE
(`... WHERE on_hand - reserved >= :qty`), which PostgreSQL re-checks on the newest row version
after waiting for a concurrent writer's lock; callers touch products in ascending id order, so
two reservations never wait on each other in a cycle. The CHECK `0 <= reserved <= on_hand`
backs this up.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Update,
    and_,
    bindparam,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from catalog.domain import Product
from catalog.model import PRODUCT_COLUMNS, products, stock_movements
from catalog.schemas import MAX_STOCK

_P = products.c
_LIVE = _P.deleted_at.is_(None)
_AVAILABLE = _P.on_hand - _P.reserved
_QTY = bindparam("qty", type_=Integer)
# Statements are built once with bound values: built per call, construction and cache key
# cost more CPU than PostgreSQL spends running them.
_BY_ID = select(*PRODUCT_COLUMNS).where(_P.id == bindparam("id"))
_BY_IDS = select(*PRODUCT_COLUMNS).where(_P.id.in_(bindparam("ids", expanding=True)))
_MOVEMENT = insert(stock_movements)


def _counter(*conditions: ColumnElement[bool], **values: Any) -> Update:
    return (update(products).where(_P.id == bindparam("pid"), *conditions)
            .values(**values, version=_P.version + 1, updated_at=func.now()))


_RESERVE = _counter(_LIVE, _QTY <= _AVAILABLE, reserved=_P.reserved + _QTY
                    ).returning(*PRODUCT_COLUMNS)
_UNRESERVE = _counter(reserved=_P.reserved - _QTY).returning(_AVAILABLE)
_TAKE = _counter(_QTY <= _AVAILABLE, on_hand=_P.on_hand - _QTY).returning(_AVAILABLE)
_RESTOCK = _counter(on_hand=_P.on_hand + _QTY).returning(_AVAILABLE)


def _product(row: Any) -> Product | None:
    return Product(*row) if row is not None else None


class ProductRepository:
    """catalog.ports.Products on the caller's Session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, product_id: uuid.UUID) -> Product | None:
        return _product(self.session.execute(_BY_ID, {"id": product_id}).first())

    def get_many(self, product_ids: list[uuid.UUID]) -> list[Product]:
        return [Product(*row) for row in self.session.execute(_BY_IDS, {"ids": product_ids})]

    def insert(self, values: dict[str, Any]) -> Product | None:
        statement = (pg_insert(products).values(**values)
                     .on_conflict_do_nothing(index_elements=["sku"], index_where=_LIVE)
                     .returning(*PRODUCT_COLUMNS))
        return _product(self.session.execute(statement).first())

    def update(self, product_id: uuid.UUID, changes: dict[str, Any],
               expected_version: int | None) -> Product | None:
        condition = and_(_P.id == product_id, _LIVE)
        if expected_version is not None:
            condition = and_(condition, _P.version == expected_version)
        statement = (update(products).where(condition)
                     .values(**changes, version=_P.version + 1, updated_at=func.now())
                     .returning(*PRODUCT_COLUMNS))
        return _product(self.session.execute(statement).first())

    def soft_delete(self, product_id: uuid.UUID) -> bool:
        statement = (update(products).where(_P.id == product_id, _LIVE)
                     .values(deleted_at=func.now(), updated_at=func.now(),
                             version=_P.version + 1)
                     .returning(_P.id))
        return self.session.execute(statement).first() is not None

    def adjust_on_hand(self, product_id: uuid.UUID, delta: int) -> Product | None:
        # on_hand is a 32-bit integer: summed as 64-bit, so the check never overflows.
        on_hand = cast(_P.on_hand, BigInteger) + delta
        statement = (update(products)
                     .where(_P.id == product_id, _LIVE, on_hand >= _P.reserved,
                            on_hand <= MAX_STOCK)
                     .values(on_hand=_P.on_hand + delta, updated_at=func.now(),
                             version=_P.version + 1)
                     .returning(*PRODUCT_COLUMNS))
        return _product(self.session.execute(statement).first())

    def record_movement(self, product_id: uuid.UUID, delta: int, reason: str) -> None:
        self.session.execute(_MOVEMENT, {"product_id": product_id, "delta": delta,
                                         "reason": reason})

    def reserve(self, product_id: uuid.UUID, quantity: int) -> Product | None:
        return _product(self.session.execute(_RESERVE, {"pid": product_id,
                                                        "qty": quantity}).first())

    def unreserve(self, product_id: uuid.UUID, quantity: int) -> int:
        return _present(self._count(_UNRESERVE, product_id, quantity))

    def take(self, product_id: uuid.UUID, quantity: int) -> int | None:
        return self._count(_TAKE, product_id, quantity)

    def restock(self, product_id: uuid.UUID, quantity: int) -> int:
        return _present(self._count(_RESTOCK, product_id, quantity))

    def _count(self, statement: Update, product_id: uuid.UUID, quantity: int) -> int | None:
        available: int | None = self.session.execute(
            statement, {"pid": product_id, "qty": quantity}).scalar()
        return available


def _present(available: int | None) -> int:
    if available is None:
        raise LookupError("product row missing under a reservation")
    return available
