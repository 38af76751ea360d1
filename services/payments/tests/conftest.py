"""Integration fixtures: the use cases on the real payments database and card simulator, with
a thread-safe fake catalog (the unit tests' fakes are in unit/fakes.py)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from payments.domain import Actor
from payments.ports import Charge, Deps, ProviderRefund
from payments.provider import RetryingProvider
from shared.errors import NotFound, OutOfStock


class FakeCatalog:
    """The catalog's reservation RPCs in memory: idempotent, all-or-nothing, thread-safe."""

    def __init__(self) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.reservations: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.reserve_delay = 0.0
        self.fail_next: dict[str, Exception] = {}
        self._lock = threading.Lock()

    def add(self, price: int = 1000, currency: str = "USD", stock: int = 10,
            deleted: bool = False) -> str:
        product_id = str(uuid.uuid4())
        self.products[product_id] = {"id": product_id, "sku": f"SKU-{product_id[:8]}",
                                     "name": f"Product {product_id[:4]}", "price": price,
                                     "currency": currency, "stock": stock, "deleted": deleted}
        return product_id

    def available(self, product_id: str) -> int:
        held = sum(r["items"].get(product_id, 0) for r in self.reservations.values()
                   if r["status"] == "active")
        return int(self.products[product_id]["stock"]) - held

    def _maybe_fail(self, method: str) -> None:
        self.calls.append(method)
        error = self.fail_next.pop(method, None)
        if error is not None:
            raise error

    def get_products(self, product_ids: list[str], count: bool = True) -> list[dict[str, Any]]:
        if count:
            self._maybe_fail("get_products")
        return [{k: v for k, v in self.products[p].items() if k != "stock"}
                for p in product_ids if p in self.products]

    def reserve_stock(self, reservation_id: str, items: list[dict[str, Any]]) -> Any:
        self._maybe_fail("reserve_stock")
        time.sleep(self.reserve_delay)
        wanted = {i["product_id"]: i["quantity"] for i in items}
        with self._lock:
            if reservation_id in self.reservations:
                return self.reservations[reservation_id]
            for product_id, quantity in wanted.items():
                if product_id not in self.products or self.products[product_id]["deleted"]:
                    raise NotFound("no such product")
                if self.available(product_id) < quantity:
                    raise OutOfStock("Out of stock.")
            self.reservations[reservation_id] = {"items": wanted, "status": "active"}
            return self.reservations[reservation_id]

    def reserve_priced(self, reservation_id: str,
                       items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """reserve_stock(..., with_products=True): one call, counted as `reserve_stock`."""
        self.reserve_stock(reservation_id, items)
        return self.get_products([i["product_id"] for i in items], count=False)

    def release_reservation(self, reservation_id: str) -> Any:
        self._maybe_fail("release_reservation")
        with self._lock:
            record = self.reservations.setdefault(reservation_id,
                                                  {"items": {}, "status": "released"})
            record["status"] = "released"
            return record


class CountingProvider:
    """Wraps a provider, counting calls; `crash_after_charge` raises after the real charge."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.charges = 0
        self.refunds = 0
        self.crash_after_charge = False

    def accepts(self, payment_method: str) -> bool:
        return bool(self.inner.accepts(payment_method))

    def charge(self, **kwargs: Any) -> Charge:
        self.charges += 1
        charge: Charge = self.inner.charge(**kwargs)
        if self.crash_after_charge:
            raise RuntimeError("process died after the charge")
        return charge

    def find_charge(self, idempotency_key: str) -> Charge | None:
        result: Charge | None = self.inner.find_charge(idempotency_key)
        return result

    def refund(self, **kwargs: Any) -> ProviderRefund:
        self.refunds += 1
        result: ProviderRefund = self.inner.refund(**kwargs)
        return result


@pytest.fixture
def ledger_balance() -> Any:
    """captured - refunded of a payment, from its `sales` ledger entries."""
    from sqlalchemy import func, select

    from payments.model import ledger_entries as entries

    def balance(session: Any, payment_id: uuid.UUID) -> int:
        return -int(session.execute(select(func.coalesce(func.sum(entries.c.amount), 0)).where(
            entries.c.payment_id == payment_id, entries.c.account == "sales")).scalar_one())

    return balance


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog()


@pytest.fixture
def customer() -> Actor:
    return Actor(uuid.uuid4())


@pytest.fixture
def admin() -> Actor:
    return Actor(uuid.uuid4(), is_admin=True)


@pytest.fixture(scope="session")
def uow(database_urls: dict[str, str]) -> Iterator[Any]:
    from shared.db import UnitOfWorkFactory, make_engine

    factory = UnitOfWorkFactory(make_engine(database_urls["payments"], pool_size=25))
    yield factory
    factory.engine.dispose()


@pytest.fixture
def simulator(uow: Any) -> CountingProvider:
    from payments.simulator import CardSimulator

    return CountingProvider(CardSimulator(uow))


@pytest.fixture
def deps(uow: Any, catalog: FakeCatalog, simulator: CountingProvider) -> Deps:
    from payments.postgres import PostgresStore

    return Deps(store=PostgresStore(uow), catalog=catalog,
                provider=RetryingProvider(simulator, 3, 0.0), lease_seconds=30.0)
