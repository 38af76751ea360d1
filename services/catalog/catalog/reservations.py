"""Reservation use cases: idempotent on the caller's reservation id, all-or-nothing across items.

A refusal anywhere raises, and the caller's transaction rolls every counter change back.
Products are always touched in ascending id order (Reservation.hold sorts the items).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from catalog import errors, views
from catalog.domain import Product, Reservation, totals
from catalog.ports import Transaction
from catalog.schemas import Reservation as ReservationRequest
from catalog.use_cases import stock_changed

SWEEP_BATCH = 200  # reservations expired per transaction


def reserve_stock(tx: Transaction, request: ReservationRequest, now: dt.datetime,
                  ttl_seconds: float, with_products: bool = False) -> dict[str, Any]:
    """`with_products`: the answer also lists the reserved products as they are now, so a
    checkout prices and reserves in one call (read in the reserving transaction)."""
    held = Reservation.hold(request.reservation_id, request.quantities(), now, ttl_seconds)
    # The items go in with the reservation; a refusal below rolls both back.
    if tx.reservations.create(held):
        found = [_take_units(tx, product_id, quantity)
                 for product_id, quantity in held.items.items()]
    else:
        held = existing(tx, held.id).replayed(held.items)
        found = tx.products.get_many(list(held.items)) if with_products else []
    result = views.reservation(held)
    if with_products:
        result["products"] = [views.product(product) for product in found]
    return result


def get_reservation(tx: Transaction, reservation_id: str) -> dict[str, Any]:
    return views.reservation(existing(tx, reservation_id))


def commit_reservation(tx: Transaction, reservation_id: str) -> dict[str, Any]:
    reservation = existing(tx, reservation_id)
    committed = reservation.committed()
    if reservation.status == "active" and not tx.reservations.commit_active(reservation_id):
        raise RuntimeError(f"reservation {reservation_id} changed under its lock")
    return views.reservation(committed)


def release_reservation(tx: Transaction, reservation_id: str,
                        now: dt.datetime) -> dict[str, Any]:
    """Releasing an unknown id leaves a released tombstone, so a late reserve_stock with that id
    (a retry that overtook the release) is refused instead of holding units forever."""
    reservation = tx.reservations.get(reservation_id)
    if reservation is None:
        tombstone = Reservation.tombstone(reservation_id, now)
        if tx.reservations.create(tombstone):
            return views.reservation(tombstone)
        reservation = existing(tx, reservation_id)  # a reserve_stock committed meanwhile
    released = reservation.released()
    if reservation.status == "active":
        _give_back(tx, reservation.items)
        tx.reservations.set_status(reservation_id, "released")
    return views.reservation(released)


def expire_due(tx: Transaction, now: dt.datetime, limit: int = SWEEP_BATCH) -> int:
    """Expire up to `limit` active reservations past their time; returns how many."""
    due = tx.reservations.due(now, limit)
    for reservation in due:
        tx.reservations.set_status(reservation.id, "expired")
    _give_back(tx, totals(due))
    return len(due)


def existing(tx: Transaction, reservation_id: str) -> Reservation:
    reservation = tx.reservations.get(reservation_id)
    if reservation is None:
        raise errors.reservation_not_found(reservation_id)
    return reservation


def _take_units(tx: Transaction, product_id: uuid.UUID, quantity: int) -> Product:
    reserved = tx.products.reserve(product_id, quantity)
    if reserved is None:
        raise _refusal(tx, product_id, quantity)
    stock_changed(tx, product_id, reserved.on_hand - reserved.reserved)
    return reserved


def _refusal(tx: Transaction, product_id: uuid.UUID, quantity: int) -> Exception:
    current = tx.products.get(product_id)
    if current is None or current.deleted:
        return errors.product_not_found(product_id)
    return errors.out_of_stock(product_id, quantity, current.available)


def _give_back(tx: Transaction, items: Mapping[uuid.UUID, int]) -> None:
    for product_id, quantity in sorted(items.items()):
        stock_changed(tx, product_id, tx.products.unreserve(product_id, quantity))
