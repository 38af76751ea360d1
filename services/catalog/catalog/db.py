"""The catalog's unit of work (the shared one, with the catalog's ports bound to its session),
and the one-statement sales outside it."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from catalog import reservation_store
from catalog.model import inbox, outbox
from catalog.repository import ProductRepository
from catalog.reservation_store import ReservationRepository
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


class AutocommitSales:
    """catalog.ports.Sales: each call one statement on an autocommit connection."""

    def __init__(self, factory: UnitOfWorkFactory) -> None:
        self.factory = factory

    def commit_paid(self, reservation_id: str, handler: str, message_id: str) -> bool:
        with self.factory.autocommit() as conn:
            return reservation_store.commit_paid(conn, reservation_id, handler, message_id)


class CatalogTx:
    """`with CatalogTx(uow_factory()) as tx:` commits everything done through `tx`, or nothing."""

    products: ProductRepository
    reservations: ReservationRepository

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.events = OutboxEvents(uow)
        self.inbox = InboxClaims(uow)

    def __enter__(self) -> CatalogTx:
        self.uow.__enter__()
        self.products = ProductRepository(self.uow.session)
        self.reservations = ReservationRepository(self.uow.session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.uow.__exit__(exc_type, exc, tb)
