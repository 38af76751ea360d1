"""Fixtures of both tiers: the fakes of unit/fakes.py (loaded here once), and the use cases on
the real payments database and card simulator for the integration tests."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from payments.domain import Actor
from payments.ports import Charge, Deps, ProviderRefund
from payments.provider import RetryingProvider


def _load_fakes() -> Any:
    # By path, under a unique name: other components' tests may have a fakes.py of their own.
    name = "payments_unit_fakes"
    if name not in sys.modules:
        path = Path(__file__).parent / "unit" / "fakes.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


fakes = _load_fakes()


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
def catalog() -> Any:
    return fakes.FakeCatalog()


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
def deps(uow: Any, catalog: Any, simulator: CountingProvider) -> Deps:
    from payments.postgres import PostgresStore

    return Deps(store=PostgresStore(uow), catalog=catalog,
                provider=RetryingProvider(simulator, 3, 0.0), lease_seconds=30.0)
