"""The catalog's Store on PostgreSQL: transactions (the shared unit of work with the catalog's
repositories bound to its session), the one-statement sale outside them, and the few
statements the gauges and the seeding tool run."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, insert

from catalog.model import inbox, outbox, products
from catalog.postgres import reservations
from catalog.postgres.products import ProductRepository
from catalog.postgres.reservations import ReservationRepository
from shared.db import UnitOfWork, UnitOfWorkFactory
from shared.messaging import inbox as inbox_claims
from shared.messaging.outbox import record_event

SOURCE = "catalog"


class OutboxEvents:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def record(self, event_type: str, fields: dict[str, Any]) -> None:
        record_event(self.uow.session, outbox, SOURCE, event_type, fields)


class InboxClaims:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def claim(self, handler: str, message_id: str) -> bool:
        return inbox_claims.claim(self.uow.session, inbox, handler, message_id)


class PostgresTransaction:
    """catalog.ports.Transaction: `with store.transaction() as tx:` commits all, or nothing."""

    products: ProductRepository
    reservations: ReservationRepository

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.events = OutboxEvents(uow)
        self.inbox = InboxClaims(uow)

    def __enter__(self) -> PostgresTransaction:
        self.uow.__enter__()
        self.products = ProductRepository(self.uow.session)
        self.reservations = ReservationRepository(self.uow.session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.uow.__exit__(exc_type, exc, tb)


class PostgresStore:
    """catalog.ports.Store over the service's unit-of-work factory."""

    def __init__(self, factory: UnitOfWorkFactory) -> None:
        self.factory = factory

    def transaction(self) -> PostgresTransaction:
        return PostgresTransaction(self.factory())

    def commit_paid(self, reservation_id: str, handler: str, message_id: str) -> bool:
        with self.factory.autocommit() as conn:
            return reservations.commit_paid(conn, reservation_id, handler, message_id)


def reservation_gauges(factory: UnitOfWorkFactory, soon_seconds: int) -> dict[str, float]:
    with factory() as uow:
        row = uow.session.execute(reservations.GAUGES, {"soon": soon_seconds}).one()
    return {key: float(getattr(row, key))
            for key in ("active", "expiring", "overdue", "overdue_age")}


def add_products(engine: Engine, rows: Sequence[dict[str, Any]], events: bool) -> None:
    """Insert products in one transaction, each with its product_created event if `events`."""
    with engine.begin() as conn:
        conn.execute(insert(products), list(rows))
        for row in rows if events else ():
            record_event(conn, outbox, SOURCE, "product_created", {  # type: ignore[arg-type]
                "product_id": str(row["id"]), "sku": row["sku"], "name": row["name"],
                "price": row["price"], "currency": row["currency"]})
