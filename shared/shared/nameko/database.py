"""Gives each nameko worker a unit-of-work factory on the service's own database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nameko.extensions import DependencyProvider

from shared.db import UnitOfWorkFactory, make_engine


class Database(DependencyProvider):  # type: ignore[misc]
    """`db = Database(lambda: settings().database_url)`; in a worker: `with self.db() as uow:`."""

    # `pool`: the label /metrics gives its pool, "db" in every service whatever the attribute.
    def __init__(self, url: Callable[[], str], pool_size: Callable[[], int] = lambda: 10,
                 pool: str = "db") -> None:
        self._url = url
        self.pool = pool
        self._pool_size = pool_size
        self.factory: UnitOfWorkFactory | None = None

    def setup(self) -> None:
        # psycopg2 is C code; without this a query blocks every greenthread in the process.
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
        self.factory = UnitOfWorkFactory(make_engine(self._url(), self._pool_size()))

    def stop(self) -> None:
        if self.factory is not None:
            self.factory.engine.dispose()

    def get_dependency(self, worker_ctx: Any) -> UnitOfWorkFactory:
        assert self.factory is not None, "Database used before setup()"
        return self.factory
