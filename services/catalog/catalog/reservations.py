"""Reservation use cases: idempotent on the caller's reservation id, all-or-nothing across items.

A failure anywhere raises, and the caller's unit of work rolls every counter change back.
Products are always touched in ascending id order (see stock.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from catalog import errors, views
from catalog.ports import ReservationRecord, Row, Tx
from catalog.schemas import Reservation
from catalog.use_cases import stock_changed

log = logging.getLogger(__name__)


def reserve_stock(tx: Tx, request: Reservation, now: dt.datetime, ttl_seconds: float,
                  with_products: bool = False) -> dict[str, Any]:
    """`with_products`: the answer also lists the reserved products as they are now, so a
    checkout prices and reserves in one call (read in the reserving transaction)."""
    rid, items = request.reservation_id, dict(sorted(request.quantities().items()))
    expires_at = now + dt.timedelta(seconds=ttl_seconds)
    # The items go in with the reservation; a refusal below rolls both back.
    if not tx.reservations.create(rid, expires_at, items=items):
        result = _replay(tx, rid, items)
        rows = tx.products.get_many(list(items)) if with_products else []
    else:
        rows = [_take_units(tx, product_id, quantity) for product_id, quantity in items.items()]
        result = view(ReservationRecord(rid, "active", expires_at, False, items))
    if with_products:
        result["products"] = [views.product(row) for row in rows]
    return result


def _take_units(tx: Tx, product_id: uuid.UUID, quantity: int) -> Row:
    row = tx.products.reserve(product_id, quantity)
    if row is None:
        raise _refusal(tx, product_id, quantity)
    stock_changed(tx, product_id, row["on_hand"] - row["reserved"])
    return row


def get_reservation(tx: Tx, reservation_id: str) -> dict[str, Any]:
    return view(_existing(tx, reservation_id))


def commit_reservation(tx: Tx, reservation_id: str) -> dict[str, Any]:
    record = _existing(tx, reservation_id)
    if record.status in ("released", "expired"):
        raise errors.reservation_state(reservation_id, record.status, "committed")
    if record.status == "active" and not tx.reservations.commit_active(reservation_id):
        raise RuntimeError(f"reservation {reservation_id} changed under its lock")
    return view(record, "committed")


def release_reservation(tx: Tx, reservation_id: str, now: dt.datetime) -> dict[str, Any]:
    """Releasing an unknown id leaves a released tombstone, so a late reserve_stock with that id
    (a retry that overtook the release) is refused instead of holding units forever."""
    record = tx.reservations.get(reservation_id)
    if record is None:
        if tx.reservations.create(reservation_id, now, "released"):
            return view(ReservationRecord(reservation_id, "released", now))
        record = _existing(tx, reservation_id)  # a reserve_stock committed meanwhile
    if record.status == "committed":
        raise errors.reservation_state(reservation_id, "committed", "released")
    if record.status == "active":
        _give_back(tx, record.items)
        tx.reservations.set_status(reservation_id, "released")
        return view(record, "released")
    return view(record)


def expire_due(tx: Tx, now: dt.datetime, limit: int = 100) -> int:
    """Expire up to `limit` active reservations past their time; returns how many."""
    records = tx.reservations.due(now, limit)
    totals: dict[uuid.UUID, int] = {}
    for record in records:
        for product_id, quantity in record.items.items():
            totals[product_id] = totals.get(product_id, 0) + quantity
        tx.reservations.set_status(record.id, "expired")
    _give_back(tx, totals)
    return len(records)


def view(record: ReservationRecord, status: str | None = None) -> dict[str, Any]:
    return {"reservation_id": record.id, "status": status or record.status,
            "expires_at": record.expires_at,
            "items": [{"product_id": str(pid), "quantity": qty}
                      for pid, qty in sorted(record.items.items())]}


def _existing(tx: Tx, reservation_id: str) -> ReservationRecord:
    record = tx.reservations.get(reservation_id)
    if record is None:
        raise errors.reservation_not_found(reservation_id)
    return record


def _replay(tx: Tx, rid: str, items: dict[uuid.UUID, int]) -> dict[str, Any]:
    record = _existing(tx, rid)
    if record.status in ("released", "expired"):
        raise errors.reservation_state(rid, record.status, "reserved again")
    if record.items != items:
        raise errors.reservation_reused(rid)
    return view(record)


def _refusal(tx: Tx, product_id: uuid.UUID, quantity: int) -> Exception:
    row = tx.products.get(product_id)
    if row is None or row["deleted_at"] is not None:
        return errors.product_not_found(product_id)
    return errors.out_of_stock(product_id, quantity, max(row["on_hand"] - row["reserved"], 0))


def _give_back(tx: Tx, items: dict[uuid.UUID, int]) -> None:
    for product_id, quantity in sorted(items.items()):
        stock_changed(tx, product_id, tx.products.unreserve(product_id, quantity))
