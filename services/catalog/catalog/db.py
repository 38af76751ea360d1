"""The catalog's unit of work: the shared one, with the catalog's ports bound to its session."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from catalog.model import inbox, outbox
from catalog.repository import ProductRepository
from catalog.reservation_store import ReservationRepository
from shared.db import UnitOfWork
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
