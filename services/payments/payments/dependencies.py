"""nameko DependencyProviders of payments: each worker gets the use cases' ports (`Deps`)."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from payments.config import settings
from payments.ports import CardProvider, Deps
from payments.postgres import PostgresStore
from payments.pricing import Item, Product
from payments.provider import RetryingProvider
from payments.simulator import CardSimulator


class RpcCatalog:
    """The Catalog port over a nameko-style RPC proxy to the catalog service."""

    def __init__(self, proxy: Any) -> None:
        self.proxy = proxy

    def get_products(self, product_ids: list[str]) -> list[Product]:
        return list(self.proxy.get_products(product_ids))

    def reserve_stock(self, reservation_id: str, items: list[Item]) -> None:
        self.proxy.reserve_stock(reservation_id, items=items)

    def reserve_priced(self, reservation_id: str, items: list[Item]) -> list[Product]:
        reservation = self.proxy.reserve_stock(reservation_id, items=items, with_products=True)
        return list(reservation["products"])

    def release_reservation(self, reservation_id: str) -> None:
        self.proxy.release_reservation(reservation_id)


class Ports(DependencyProvider):  # type: ignore[misc]
    """`ports = Ports(database="db", catalog="catalog")`: builds `Deps` from the service's
    `Database` and catalog `ServiceRpc` dependencies (named by attribute), the card simulator
    behind the retry policy, and the settings."""

    def __init__(self, database: str, catalog: str) -> None:
        self.database_attr = database
        self.catalog_attr = catalog
        self._siblings: dict[str, Any] = {}
        self._store: PostgresStore | None = None
        self._provider: CardProvider | None = None

    def setup(self) -> None:
        self._siblings = {dep.attr_name: dep for dep in self.container.dependencies}

    def _shared(self, worker_ctx: Any) -> tuple[PostgresStore, CardProvider]:
        if self._store is None or self._provider is None:  # after every sibling's setup()
            factory = self._siblings[self.database_attr].get_dependency(worker_ctx)
            config = settings()
            self._store = PostgresStore(factory)
            self._provider = RetryingProvider(CardSimulator(factory), config.provider_attempts,
                                              config.provider_retry_wait)
        return self._store, self._provider

    def get_dependency(self, worker_ctx: Any) -> Deps:
        store, provider = self._shared(worker_ctx)
        proxy = self._siblings[self.catalog_attr].get_dependency(worker_ctx)
        config = settings()
        return Deps(store=store, catalog=RpcCatalog(proxy), provider=provider,
                    lease_seconds=config.lease_seconds, crash_after=config.test_crash_after)
