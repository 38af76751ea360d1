"""Applying payments' events (shared.contracts.events) to the catalog's reservations.

Payments reserves with the payment id as the reservation id, so the payment id names the
reservation here. Each event is first claimed in the inbox, in the same transaction (or, for
the usual payment_succeeded, in the very statement that applies it), so a redelivered or
republished event has its effect once. Each function returns a short outcome for the log
("duplicate" when the event was applied before).
"""

from __future__ import annotations

import logging
import uuid

from catalog import domain
from catalog.ports import Store, Transaction
from catalog.use_cases import stock_changed
from shared.contracts.events import PaymentRefunded, PaymentSucceeded

log = logging.getLogger(__name__)

SUCCEEDED_HANDLER = "catalog.on_payment_succeeded"
REFUNDED_HANDLER = "catalog.on_payment_refunded"


class SaleNotApplied(Exception):
    """A restocking refund arrived before the payment_succeeded it refunds (each event type has
    its own queue). Raised so the refund is retried later, not dropped."""


def apply_succeeded(store: Store, event: PaymentSucceeded) -> str:
    """The usual case (the reservation is active, the event is new) in one statement; anything
    else (a duplicate, a late or missing reservation) in a transaction."""
    if store.commit_paid(str(event.payment_id), SUCCEEDED_HANDLER, str(event.event_id)):
        return "committed"
    with store.transaction() as tx:
        return payment_succeeded(tx, event)


def apply_refunded(store: Store, event: PaymentRefunded) -> str:
    with store.transaction() as tx:
        return payment_refunded(tx, event)


def payment_succeeded(tx: Transaction, event: PaymentSucceeded) -> str:
    payment_id = str(event.payment_id)
    if not tx.inbox.claim(SUCCEEDED_HANDLER, str(event.event_id)):
        return "duplicate"
    reservation = tx.reservations.get(payment_id)
    if reservation is None:
        log.warning("payment_succeeded without a reservation", extra={"payment_id": payment_id})
        return "no reservation"
    if reservation.status == "committed":
        return "already committed"
    if reservation.status == "active":
        if not tx.reservations.commit_active(payment_id):  # `get` locked it: cannot happen
            raise RuntimeError(f"reservation {payment_id} changed under its lock")
        return "committed"
    return _commit_late(tx, reservation)


def payment_refunded(tx: Transaction, event: PaymentRefunded) -> str:
    payment_id = str(event.payment_id)
    if not tx.inbox.claim(REFUNDED_HANDLER, str(event.event_id)):
        return "duplicate"
    if not event.restock:
        return "no restock"
    reservation = tx.reservations.get(payment_id)
    if reservation is not None and reservation.status == "active":
        # Rolls the inbox claim back with the rest: the consumer retries with backoff, and
        # parks the event if the sale never arrives (never "nothing to restock" for good).
        raise SaleNotApplied(f"payment {payment_id} is refunded with restock but its "
                             "payment_succeeded is not applied yet; retrying")
    if reservation is None or reservation.status != "committed":
        log.warning("restock refused: no committed reservation",
                    extra={"payment_id": payment_id, "status": reservation and reservation.status})
        return "nothing to restock"
    if reservation.restocked:
        return "already restocked"
    for product_id, quantity in sorted(reservation.items.items()):
        stock_changed(tx, product_id, tx.products.restock(product_id, quantity))
        tx.products.record_movement(product_id, quantity, f"refund restock: payment {payment_id}")
    tx.reservations.mark_restocked(payment_id)
    return "restocked"


def _commit_late(tx: Transaction, reservation: domain.Reservation) -> str:
    """The payment succeeded after its reservation expired (or was released): take the units
    again if they are still there, all or nothing; otherwise say so loudly (an operator must
    refund or source the goods) rather than retry forever."""
    taken: dict[uuid.UUID, int] = {}
    for product_id, quantity in sorted(reservation.items.items()):
        available = tx.products.take(product_id, quantity)
        if available is None:
            for back_id in taken:  # give back what this loop took
                tx.products.restock(back_id, reservation.items[back_id])
            log.error("paid reservation expired and its stock is gone",
                      extra={"reservation_id": reservation.id, "product_id": str(product_id)})
            return "oversold"
        taken[product_id] = available
    for product_id, available in taken.items():
        tx.products.record_movement(product_id, -reservation.items[product_id],
                                    f"sold late: reservation {reservation.id}")
        stock_changed(tx, product_id, available)
    tx.reservations.set_status(reservation.id, "committed")
    return "committed late"

