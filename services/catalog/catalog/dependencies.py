"""What each catalog worker is given: the Store and the product reader of its container, made
at setup and closed at stop (no module globals)."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from catalog.config import settings
from catalog.postgres import PostgresStore, ProductReader
from shared.nameko.database import Database


class Store(Database):
    """The service's Database (its pool is the one /metrics reports and samples on), handed
    to workers as the catalog's Store."""

    def __init__(self) -> None:
        super().__init__(lambda: settings().database_url, lambda: settings().db_pool_size)
        self.store: PostgresStore | None = None

    def setup(self) -> None:
        super().setup()
        assert self.factory is not None
        self.store = PostgresStore(self.factory)

    # Workers get the Store; /metrics keeps reading `factory`, as of any Database.
    def get_dependency(self, worker_ctx: Any) -> PostgresStore:  # type: ignore[override]
        assert self.store is not None, "Store used before setup()"
        return self.store


class ProductReads(DependencyProvider):  # type: ignore[misc]
    """Reads outside any transaction, on their own autocommit pool beside the Store's."""

    def __init__(self) -> None:
        self.reader: ProductReader | None = None

    def setup(self) -> None:
        self.reader = ProductReader.on(settings().database_url, settings().db_pool_size)

    def stop(self) -> None:
        if self.reader is not None:
            self.reader.engine.dispose()

    def get_dependency(self, worker_ctx: Any) -> ProductReader:
        assert self.reader is not None, "ProductReads used before setup()"
        return self.reader
