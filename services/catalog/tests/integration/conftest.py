"""Real PostgreSQL (the session's throwaway, migrated catalog database) behind the use cases."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from catalog import use_cases
from catalog.postgres import PostgresStore, PostgresTransaction, ProductReader
from catalog.schemas import NewProduct
from shared.db import UnitOfWorkFactory, make_engine


@pytest.fixture(scope="session")
def engine(database_urls: dict[str, str]) -> Iterator[Engine]:
    engine = make_engine(database_urls["catalog"], pool_size=20)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def store(engine: Engine) -> PostgresStore:
    return PostgresStore(UnitOfWorkFactory(engine))


@pytest.fixture(scope="session")
def new_tx(store: PostgresStore) -> Callable[[], PostgresTransaction]:
    return store.transaction


@pytest.fixture(scope="session")
def reader(engine: Engine) -> ProductReader:
    return ProductReader(engine)


@pytest.fixture
def category() -> str:
    """A category no other test uses: the database is shared by the whole session."""
    return f"cat-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_product(new_tx: Callable[[], PostgresTransaction]) -> Callable[..., dict[str, Any]]:
    def make(stock: int = 0, **fields: Any) -> dict[str, Any]:
        values = {"sku": f"SKU-{uuid.uuid4().hex[:16]}", "name": "Plain product",
                  "price": 1000, "stock": stock, **fields}
        with new_tx() as tx:
            return use_cases.create_product(tx, NewProduct(**values))

    return make
