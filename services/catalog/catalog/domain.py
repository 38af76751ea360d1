"""The catalog's records and rules: products, and reservations with their transitions.

Pure code: no I/O. A refused transition raises the catalog's error (errors.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from catalog import errors

Status = Literal["active", "committed", "released", "expired"]


@dataclass(frozen=True, slots=True)
class Product:
    """A products row; `on_hand` is in the warehouse, `reserved` held by active reservations."""

    id: uuid.UUID
    sku: str
    name: str
    description: str
    category: str | None
    price: int
    currency: str
    on_hand: int
    reserved: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class Page:
    products: Sequence[Product]
    last_key: tuple[Any, ...] | None  # sort key of the last product, when there may be more


@dataclass(frozen=True)
class Reservation:
    """Units held for a caller's key (payments: the payment id) until paid, released or due."""

    id: str
    status: Status
    expires_at: dt.datetime
    restocked: bool = False
    items: Mapping[uuid.UUID, int] = field(default_factory=dict)

    @classmethod
    def hold(cls, reservation_id: str, quantities: Mapping[uuid.UUID, int], now: dt.datetime,
             ttl_seconds: float) -> Reservation:
        """Items in ascending product id: the order every writer locks products in."""
        return cls(reservation_id, "active", now + dt.timedelta(seconds=ttl_seconds),
                   items=dict(sorted(quantities.items())))

    @classmethod
    def tombstone(cls, reservation_id: str, now: dt.datetime) -> Reservation:
        """A release of an unknown id: refuses a reserve_stock that arrives after it."""
        return cls(reservation_id, "released", now)

    @property
    def lapsed(self) -> bool:
        return self.status in ("released", "expired")

    def replayed(self, items: Mapping[uuid.UUID, int]) -> Reservation:
        """The same id reserved again: the same reservation, or a refusal."""
        if self.lapsed:
            raise errors.reservation_lapsed(self.id, self.status, "reserved again")
        if dict(self.items) != dict(items):
            raise errors.reservation_reused(self.id)
        return self

    def committed(self) -> Reservation:
        if self.lapsed:
            raise errors.reservation_lapsed(self.id, self.status, "committed")
        return replace(self, status="committed")

    def released(self) -> Reservation:
        """Active -> released; released or expired stay as they are."""
        if self.status == "committed":
            raise errors.reservation_committed(self.id)
        return replace(self, status="released") if self.status == "active" else self


def totals(reservations: Sequence[Reservation]) -> dict[uuid.UUID, int]:
    """Units per product over several reservations."""
    summed: dict[uuid.UUID, int] = {}
    for reservation in reservations:
        for product_id, quantity in reservation.items.items():
            summed[product_id] = summed.get(product_id, 0) + quantity
    return summed

