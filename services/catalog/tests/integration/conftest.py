"""Real PostgreSQL (the session's throwaway, migrated catalog database) behind the use cases."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from catalog import reservations, use_cases
from catalog.postgres import PostgresStore, PostgresTransaction, ProductReader
from catalog.schemas import NewProduct, Reservation
from shared.db import UnitOfWorkFactory, make_engine
from shared.errors import Conflict
from shared.wire import utcnow


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


@pytest.fixture
def reserve(new_tx: Callable[[], PostgresTransaction]) -> Callable[..., dict[str, Any]]:
    """reserve(rid, [(product_id, quantity), ...], now=None), with a 900 s TTL."""

    def run(rid: str, items: list[tuple[Any, int]], now: Any = None) -> dict[str, Any]:
        request = Reservation.model_validate({"reservation_id": rid, "items": [
            {"product_id": str(pid), "quantity": qty} for pid, qty in items]})
        with new_tx() as tx:
            return reservations.reserve_stock(tx, request, now or utcnow(), 900.0)

    return run


@pytest.fixture
def hammer() -> Callable[[int, Callable[[int], Any]], Counter[str]]:
    """hammer(workers, target): target(i) in threads released at the same moment; the
    outcomes counted ("ok", a Conflict's code, or the error)."""

    def run(workers: int, target: Callable[[int], Any]) -> Counter[str]:
        barrier, outcomes, lock = threading.Barrier(workers), Counter[str](), threading.Lock()

        def one(i: int) -> None:
            barrier.wait()
            try:
                target(i)
                outcome = "ok"
            except Conflict as exc:
                outcome = exc.extra.get("code", "conflict")
            except Exception as exc:  # anything else fails the test that counts
                outcome = f"{type(exc).__name__}: {exc}"
            with lock:
                outcomes[outcome] += 1

        threads = [threading.Thread(target=one, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        return outcomes

    return run
