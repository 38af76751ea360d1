"""What the use cases need from the outside world: postgres/ implements these on PostgreSQL,
the unit tests on dictionaries (tests/unit/fakes.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import AbstractContextManager
from typing import Any, Protocol

from catalog.domain import Page, Product, Reservation, Status


class ProductReads(Protocol):
    """Reads outside any transaction."""

    def get(self, product_id: uuid.UUID) -> Product | None: ...
    def get_many(self, product_ids: list[uuid.UUID]) -> list[Product]: ...
    def page(self, limit: int, after: tuple[Any, ...] | None, category: str | None) -> Page: ...
    def search(self, q: str, limit: int, after: tuple[Any, ...] | None,
               category: str | None) -> Page: ...


class Products(Protocol):
    def get(self, product_id: uuid.UUID) -> Product | None: ...
    def get_many(self, product_ids: list[uuid.UUID]) -> list[Product]: ...
    def insert(self, values: dict[str, Any]) -> Product | None: ...  # None: sku taken
    def update(self, product_id: uuid.UUID, changes: dict[str, Any],
               expected_version: int | None) -> Product | None: ...  # None: gone or mismatch
    def soft_delete(self, product_id: uuid.UUID) -> bool: ...
    # None: gone, or the new stock would be below what is reserved or above the maximum.
    def adjust_on_hand(self, product_id: uuid.UUID, delta: int) -> Product | None: ...
    def record_movement(self, product_id: uuid.UUID, delta: int, reason: str) -> None: ...
    # Stock counters. reserve: the product as reserved, or None (gone, deleted or short).
    def reserve(self, product_id: uuid.UUID, quantity: int) -> Product | None: ...
    # The others return the product's new `available`; take: None when short.
    def unreserve(self, product_id: uuid.UUID, quantity: int) -> int: ...
    def take(self, product_id: uuid.UUID, quantity: int) -> int | None: ...
    def restock(self, product_id: uuid.UUID, quantity: int) -> int: ...


class Reservations(Protocol):
    # With its items (those naming no product are left out); False, nothing written: id taken.
    def create(self, reservation: Reservation) -> bool: ...
    def get(self, reservation_id: str) -> Reservation | None: ...  # locks it until the end
    # Sell an active reservation's units and mark it committed; False: it was not active.
    def commit_active(self, reservation_id: str) -> bool: ...
    def set_status(self, reservation_id: str, status: Status) -> None: ...
    def mark_restocked(self, reservation_id: str) -> None: ...
    def due(self, now: dt.datetime, limit: int) -> list[Reservation]: ...  # locks them


class Events(Protocol):
    def record(self, event_type: str, fields: dict[str, Any]) -> None: ...  # the outbox


class Inbox(Protocol):
    def claim(self, handler: str, message_id: str) -> bool: ...  # False: applied before


class Transaction(Protocol):
    """An open unit of work: everything done through it commits or rolls back together."""

    @property
    def products(self) -> Products: ...
    @property
    def reservations(self) -> Reservations: ...
    @property
    def events(self) -> Events: ...
    @property
    def inbox(self) -> Inbox: ...


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]: ...

    # Outside any transaction, committing alone: commit an active reservation and claim the
    # event that paid for it in one step; False (nothing done) when it is not active or the
    # event was claimed before.
    def commit_paid(self, reservation_id: str, handler: str, message_id: str) -> bool: ...
