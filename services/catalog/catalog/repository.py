"""Writing products on PostgreSQL with SQLAlchemy Core, inside the caller's unit of work (the
reads outside any transaction: reads.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
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

from catalog.model import PRODUCT_COLUMNS, products, stock_movements
from catalog.ports import Row
from catalog.schemas import MAX_STOCK
from catalog.stock import StockCounters

LIVE = products.c.deleted_at.is_(None)
_BY_ID = select(*PRODUCT_COLUMNS).where(products.c.id == bindparam("id"))
_BY_IDS = select(*PRODUCT_COLUMNS).where(products.c.id.in_(bindparam("ids", expanding=True)))
_MOVEMENT = insert(stock_movements)  # built once; the values are bound per call


class ProductRepository(StockCounters):
    """Product writes inside the caller's unit of work (a Session)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, product_id: uuid.UUID) -> Row | None:
        return self.session.execute(_BY_ID, {"id": product_id}).mappings().first()

    def get_many(self, product_ids: list[uuid.UUID]) -> list[Row]:
        return list(self.session.execute(_BY_IDS, {"ids": product_ids}).mappings())

    def insert(self, values: dict[str, Any]) -> Row | None:
        statement = (pg_insert(products).values(**values)
                     .on_conflict_do_nothing(index_elements=["sku"], index_where=LIVE)
                     .returning(*PRODUCT_COLUMNS))
        return self.session.execute(statement).mappings().first()

    def update(self, product_id: uuid.UUID, changes: dict[str, Any],
               expected_version: int | None) -> Row | None:
        condition = and_(products.c.id == product_id, LIVE)
        if expected_version is not None:
            condition = and_(condition, products.c.version == expected_version)
        statement = (update(products).where(condition)
                     .values(**changes, version=products.c.version + 1, updated_at=func.now())
                     .returning(*PRODUCT_COLUMNS))
        return self.session.execute(statement).mappings().first()

    def soft_delete(self, product_id: uuid.UUID) -> bool:
        statement = (update(products).where(products.c.id == product_id, LIVE)
                     .values(deleted_at=func.now(), updated_at=func.now(),
                             version=products.c.version + 1)
                     .returning(products.c.id))
        return self.session.execute(statement).first() is not None

    def adjust_on_hand(self, product_id: uuid.UUID, delta: int) -> Row | None:
        """None when the product is gone or the new stock would be below what is reserved or
        above MAX_STOCK (on_hand is a 32-bit integer: summed as 64-bit, never overflowing)."""
        on_hand = cast(products.c.on_hand, BigInteger) + delta
        statement = (update(products)
                     .where(products.c.id == product_id, LIVE,
                            on_hand >= products.c.reserved, on_hand <= MAX_STOCK)
                     .values(on_hand=products.c.on_hand + delta, updated_at=func.now(),
                             version=products.c.version + 1)
                     .returning(*PRODUCT_COLUMNS))
        return self.session.execute(statement).mappings().first()

    def record_movement(self, product_id: uuid.UUID, delta: int, reason: str) -> None:
        self.session.execute(_MOVEMENT, {"product_id": product_id, "delta": delta,
                                         "reason": reason})
