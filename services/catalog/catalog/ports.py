"""What the use cases need from the outside world; repository.py and stock.py implement it on
PostgreSQL, the unit tests on dictionaries."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Row = Mapping[Any, Any]  # a products row (every column but `search`), by column name


@dataclass(frozen=True)
class Page:
    rows: Sequence[Row]
    last_key: tuple[Any, ...] | None  # sort key of the last row, when there may be more


@dataclass(frozen=True)
class ReservationRecord:
    id: str
    status: str  # active | committed | released | expired
    expires_at: dt.datetime
    restocked: bool = False
    items: dict[uuid.UUID, int] = field(default_factory=dict)


class ProductReads(Protocol):
    def get(self, product_id: uuid.UUID) -> Row | None: ...
    def get_many(self, product_ids: list[uuid.UUID]) -> list[Row]: ...
    def page(self, limit: int, after: tuple[Any, ...] | None, category: str | None) -> Page: ...
    def search(self, q: str, limit: int, after: tuple[Any, ...] | None,
               category: str | None) -> Page: ...


class ProductWrites(Protocol):
    def get(self, product_id: uuid.UUID) -> Row | None: ...
    def get_many(self, product_ids: list[uuid.UUID]) -> list[Row]: ...
    def insert(self, values: dict[str, Any]) -> Row | None: ...  # None: sku taken
    def update(self, product_id: uuid.UUID, changes: dict[str, Any],
               expected_version: int | None) -> Row | None: ...  # None: gone or mismatch
    def soft_delete(self, product_id: uuid.UUID) -> bool: ...
    def adjust_on_hand(self, product_id: uuid.UUID, delta: int) -> Row | None: ...
    def record_movement(self, product_id: uuid.UUID, delta: int, reason: str) -> None: ...
    # Stock counters; each returns the product's new `available`, or None when refused.
    # reserve: the product row as reserved (its `available` is the new one), or None.
    def reserve(self, product_id: uuid.UUID, quantity: int) -> Row | None: ...
    def unreserve(self, product_id: uuid.UUID, quantity: int) -> int: ...
    def take(self, product_id: uuid.UUID, quantity: int) -> int | None: ...
    def restock(self, product_id: uuid.UUID, quantity: int) -> int: ...


class Reservations(Protocol):
    # With its items; False (and nothing written): the id exists already.
    def create(self, reservation_id: str, expires_at: dt.datetime, status: str = "active",
               items: dict[uuid.UUID, int] | None = None) -> bool: ...
    def get(self, reservation_id: str) -> ReservationRecord | None: ...  # locks the row
    # Sell an active reservation's units and mark it committed; False: it was not active.
    def commit_active(self, reservation_id: str) -> bool: ...
    def set_status(self, reservation_id: str, status: str) -> None: ...
    def mark_restocked(self, reservation_id: str) -> None: ...
    def due(self, now: dt.datetime, limit: int) -> list[ReservationRecord]: ...  # locks them


class Sales(Protocol):
    """Outside any unit of work: each call commits alone."""

    # Commit an active reservation and claim the event that paid for it, in one step; False
    # (nothing done) when it is not active or the event was claimed before.
    def commit_paid(self, reservation_id: str, handler: str, message_id: str) -> bool: ...


class Events(Protocol):
    def record(self, event_type: str, fields: dict[str, Any]) -> None: ...


class Inbox(Protocol):
    def claim(self, handler: str, message_id: str) -> bool: ...  # False: applied before


class Tx(Protocol):
    """An open unit of work: everything done through it commits or rolls back together."""

    @property
    def products(self) -> ProductWrites: ...
    @property
    def reservations(self) -> Reservations: ...
    @property
    def events(self) -> Events: ...
    @property
    def inbox(self) -> Inbox: ...
