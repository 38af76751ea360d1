"""Reading products outside any transaction: one id (the suite's hottest call), several ids,
pages and full-text search."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg2
from sqlalchemy import (
    REAL,
    URL,
    Engine,
    Select,
    bindparam,
    cast,
    create_engine,
    func,
    literal_column,
    select,
    tuple_,
)

from catalog.domain import Page, Product
from catalog.model import PRODUCT_COLUMNS, products

_NAMES = ", ".join(c.name for c in PRODUCT_COLUMNS)  # in the order of Product's fields
_GET_SQL = f"SELECT {_NAMES} FROM products WHERE id = %s::uuid"
_GET_MANY_SQL = f"SELECT {_NAMES} FROM products WHERE id = ANY(%s::uuid[])"
_DISCONNECTS = (psycopg2.OperationalError, psycopg2.InterfaceError)
_LIVE = products.c.deleted_at.is_(None)
_NEWEST_FIRST = (products.c.created_at.desc(), products.c.id.desc())


class ProductReader:
    """Reads on their own small autocommit pool.

    `get` skips SQLAlchemy's statement and result machinery (one plain DBAPI execute on a
    pooled connection: the CPU figure is in docs/benchmarks.md). No pre-ping either: a
    connection that died is dropped and the read retried once.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def on(cls, url: str | URL, pool_size: int) -> ProductReader:
        return cls(create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                 pool_recycle=1800, isolation_level="AUTOCOMMIT"))

    def get(self, product_id: uuid.UUID) -> Product | None:
        found = self._fetch(_GET_SQL, (str(product_id),))
        return found[0] if found else None

    def get_many(self, product_ids: list[uuid.UUID]) -> list[Product]:
        """The same plain path as `get`: checkout prices every order through here."""
        if not product_ids:
            return []
        return self._fetch(_GET_MANY_SQL, ([str(pid) for pid in product_ids],))

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Product]:
        for attempt in (1, 2):
            connection = self.engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(sql, params)
                found = cursor.fetchall()
                cursor.close()
            except _DISCONNECTS:
                connection.invalidate()
                if attempt == 2:
                    raise
                continue
            finally:
                connection.close()
            return [Product(*row) for row in found]
        return []

    def page(self, limit: int, after: tuple[Any, ...] | None, category: str | None) -> Page:
        rows = self._rows(page_statement(limit, after, category))
        return _page(rows, limit, lambda row: (row.created_at, row.id))

    def search(self, q: str, limit: int, after: tuple[Any, ...] | None,
               category: str | None) -> Page:
        rows = self._rows(search_statement(q, limit, after, category))
        return _page(rows, limit, lambda row: (row.rank, row.id))

    def _rows(self, statement: Select[Any]) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(statement))


def _page(rows: list[Any], limit: int, key: Any) -> Page:
    more = len(rows) > limit  # the statements fetch one row more than a page
    rows = rows[:limit]
    found = [Product(*row[:len(PRODUCT_COLUMNS)]) for row in rows]
    return Page(found, key(rows[-1]) if more else None)


def page_statement(limit: int, after: tuple[Any, ...] | None,
                   category: str | None) -> Select[Any]:
    """Newest first; keyset on (created_at, id), served by ix_products_(category_)listing."""
    query = select(*PRODUCT_COLUMNS).where(_LIVE).order_by(*_NEWEST_FIRST).limit(limit + 1)
    if category is not None:
        query = query.where(products.c.category == category)
    if after is not None:
        query = query.where(tuple_(products.c.created_at, products.c.id) < tuple_(*after))
    return query


def search_statement(q: str, limit: int, after: tuple[Any, ...] | None,
                     category: str | None) -> Select[Any]:
    """Best match first; keyset on (rank, id); matches found through the GIN index."""
    tsquery = func.websearch_to_tsquery(literal_column("'english'"), q)
    rank = func.ts_rank(products.c.search, tsquery)
    query = (select(*PRODUCT_COLUMNS, rank.label("rank"))
             .where(_LIVE, products.c.search.op("@@")(tsquery))
             .order_by(rank.desc(), products.c.id.desc()).limit(limit + 1))
    if category is not None:
        query = query.where(products.c.category == category)
    if after is not None:
        after_rank = cast(bindparam("after_rank", after[0]), REAL)
        query = query.where(tuple_(rank, products.c.id) < tuple_(after_rank, after[1]))
    return query
