"""What the catalog does when payments tells it something (events from `payments.events`).

Payments reserves with the payment id as the reservation id, so the payment id names the
reservation here. Each function first claims the event in the inbox, in the caller's unit of
work (or, for the usual payment_succeeded, in the very statement that applies it), so a
redelivered or republished event has its effect once; it returns a short outcome for the log
("duplicate" when the event was applied before).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

from catalog.ports import ReservationRecord, Sales, Tx
from catalog.use_cases import stock_changed

log = logging.getLogger(__name__)


SUCCEEDED_HANDLER = "catalog.on_payment_succeeded"
REFUNDED_HANDLER = "catalog.on_payment_refunded"


def apply_payment_succeeded(sales: Sales, new_tx: Callable[[], AbstractContextManager[Tx]],
                            event_id: str, payment_id: str) -> str:
    """The usual case (the reservation is active, the event is new) in one step; anything else
    (a duplicate, a late or missing reservation) in a unit of work."""
    if sales.commit_paid(payment_id, SUCCEEDED_HANDLER, event_id):
        return "committed"
    with new_tx() as tx:
        return payment_succeeded(tx, event_id, payment_id)


def payment_succeeded(tx: Tx, event_id: str, payment_id: str) -> str:
    if not tx.inbox.claim(SUCCEEDED_HANDLER, event_id):
        return "duplicate"
    record = tx.reservations.get(payment_id)
    if record is None:
        log.warning("payment_succeeded without a reservation", extra={"payment_id": payment_id})
        return "no reservation"
    if record.status == "committed":
        return "already committed"
    if record.status == "active":
        if not tx.reservations.commit_active(payment_id):  # `get` locked it: cannot happen
            raise RuntimeError(f"reservation {payment_id} changed under its lock")
        return "committed"
    return _commit_late(tx, record)


class SaleNotApplied(Exception):
    """A restocking refund arrived before the payment_succeeded it refunds (events are not
    ordered: each has its own queue). Raised so the refund is retried later, not dropped."""


def payment_refunded(tx: Tx, event_id: str, payment_id: str, restock: bool) -> str:
    if not tx.inbox.claim(REFUNDED_HANDLER, event_id):
        return "duplicate"
    if not restock:
        return "no restock"
    record = tx.reservations.get(payment_id)
    if record is not None and record.status == "active":
        # Rolls the inbox claim back with the rest: the consumer retries with backoff, and
        # parks the event if the sale never arrives (never "nothing to restock" for good).
        raise SaleNotApplied(f"payment {payment_id} is refunded with restock but its "
                             "payment_succeeded is not applied yet; retrying")
    if record is None or record.status != "committed":
        log.warning("restock refused: no committed reservation",
                    extra={"payment_id": payment_id, "status": record and record.status})
        return "nothing to restock"
    if record.restocked:
        return "already restocked"
    for product_id, quantity in sorted(record.items.items()):
        stock_changed(tx, product_id, tx.products.restock(product_id, quantity))
        tx.products.record_movement(product_id, quantity, f"refund restock: payment {payment_id}")
    tx.reservations.mark_restocked(payment_id)
    return "restocked"


def _commit_late(tx: Tx, record: ReservationRecord) -> str:
    """The payment succeeded after its reservation expired (or was released): take the units
    again if they are still there, all or nothing; otherwise say so loudly (an operator must
    refund or source the goods) rather than retry forever."""
    taken: dict[uuid.UUID, int] = {}
    for product_id, quantity in sorted(record.items.items()):
        available = tx.products.take(product_id, quantity)
        if available is None:
            for back_id in taken:  # give back what this loop took
                tx.products.restock(back_id, record.items[back_id])
            log.error("paid reservation expired and its stock is gone",
                      extra={"reservation_id": record.id, "product_id": str(product_id)})
            return "oversold"
        taken[product_id] = available
    for product_id, available in taken.items():
        tx.products.record_movement(product_id, -record.items[product_id],
                                    f"sold late: reservation {record.id}")
        stock_changed(tx, product_id, available)
    tx.reservations.set_status(record.id, "committed")
    return "committed late"
