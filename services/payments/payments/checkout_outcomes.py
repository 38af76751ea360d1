"""How a checkout ends, each in one write: succeeded (with its capture and event), declined,
refused before any charge (the 409s), or abandoned (a validation failure: nothing is kept)."""

from __future__ import annotations

import uuid

from payments import errors, key_claims, signals, views
from payments.domain import Outcome, Payment
from payments.ports import Charge, Deps, Finish
from shared.errors import Conflict, OutOfStock, ReservationLapsed
from shared.messaging.outbox import new_event


def succeeded(deps: Deps, payment: Payment, charge: Charge) -> Outcome:
    body = views.payment(payment, status="succeeded")
    event = new_event("payments", "payment_succeeded", {
        "payment_id": str(payment.id), "user_id": str(payment.user_id),
        "amount": payment.amount, "currency": payment.currency,
        "items": [{"product_id": i["product_id"], "quantity": i["quantity"],
                   "unit_price": i["unit_price"]} for i in payment.items]})
    return _finish(deps, payment.id, Finish(True, charge.id, None, 201, body, event),
                   "succeeded")


def declined(deps: Deps, payment: Payment, charge: Charge) -> Outcome:
    code = charge.decline_code or "card_declined"
    body = errors.declined(code, payment.id).to_problem(errors.request_id())
    event = new_event("payments", "payment_failed", {
        "payment_id": str(payment.id), "user_id": str(payment.user_id), "decline_code": code})
    return _finish(deps, payment.id, Finish(False, charge.id, code, 402, body, event),
                   "declined", code)


def _finish(deps: Deps, payment_id: uuid.UUID, outcome: Finish, *label: str) -> Outcome:
    with deps.store.statement() as tx:
        recorded = tx.payments.finish(payment_id, outcome)
    if not recorded:  # another driver finished first: its outcome is the answer
        return key_claims.stored_outcome(deps, payment_id)
    signals.checkout_finished(*label)
    return Outcome(outcome.status_code, outcome.body)


def refused(deps: Deps, payment_id: uuid.UUID, why: OutOfStock | ReservationLapsed,
            payment_exists: bool = False) -> Outcome:
    """Nothing is reserved or charged: only the 409 is kept (the payment, if any, is not). A
    lapsed reservation is not out of stock: it says so under its own code."""
    error: Conflict = errors.out_of_stock(why.detail) if isinstance(why, OutOfStock) else \
        errors.lapsed()
    label = "out_of_stock" if isinstance(why, OutOfStock) else "reservation_lapsed"
    body = error.to_problem(errors.request_id())
    with deps.store.transaction() as tx:
        gone = payment_exists and not tx.payments.delete_pending(payment_id)
        if not gone:
            tx.keys.complete(payment_id, 409, body)
    if gone:  # another driver finished it first: its outcome is the answer
        return key_claims.stored_outcome(deps, payment_id)
    signals.checkout_finished(label)
    return Outcome(409, body)


def abandon(deps: Deps, payment: Payment) -> None:
    # A product vanished after pricing: a validation failure, so nothing is stored.
    with deps.store.transaction() as tx:
        if tx.payments.delete_pending(payment.id):
            tx.keys.forget(payment.id)
