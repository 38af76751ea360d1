"""The checkout saga: reserve and price -> create the pending payment -> charge -> record the
outcome (+ event), or compensate (release the reservation) on a decline.

Every step is idempotent (the reservation is keyed by the payment id, the charge by
`charge_key(payment id)`, the terminal write is a compare-and-set on `pending`), so the request
that started a payment, a retry of it and the sweeper can all drive it: the card is charged at
most once and exactly one outcome is recorded, with its ledger entries, event and response.
"""

from __future__ import annotations

import os
import signal
import uuid

from payments import errors, key_claims, signals, views
from payments.domain import Item, KeyRecord, Outcome, Payment, charge_key, price_from
from payments.ports import Charge, Deps, Finish
from shared.errors import (
    Conflict,
    NotFound,
    OutOfStock,
    ReservationLapsed,
    ServiceUnavailable,
    ValidationFailed,
)
from shared.messaging.outbox import new_event


def start_or_resume(deps: Deps, record: KeyRecord, fresh: bool = False) -> Outcome:
    """`fresh`: this request made the key, so no payment can exist yet (saves a read)."""
    payment_id, payment = record.resource_id, None
    if not fresh:
        with deps.store.transaction() as tx:
            payment = tx.payments.get(payment_id)
    reserved = payment is None
    if payment is None:  # new, or taking over a request that died before its payment existed
        started = _reserve_and_create(deps, record)
        if isinstance(started, Outcome):
            return started
        payment = started
    try:
        return drive(deps, payment_id, payment, reserved=reserved)
    except ValidationFailed:
        raise
    except Exception:
        key_claims.release(deps, payment_id)  # a retry or the sweeper resumes at once
        raise


def complete_abandoned(deps: Deps, record: KeyRecord) -> None:
    """The sweeper's part: drive a payment that exists; else release what may be reserved."""
    with deps.store.transaction() as tx:
        started = tx.payments.get(record.resource_id) is not None
    if started:
        drive(deps, record.resource_id)
        return
    # Nothing charged, but the stock may be reserved: the release leaves a tombstone, so a
    # reserve still on its way is refused.
    deps.catalog.release_reservation(str(record.resource_id))
    key_claims.forget(deps, record.resource_id)


def _reserve_and_create(deps: Deps, record: KeyRecord) -> Payment | Outcome:
    """Reserve and price in one catalog call (the reservation is the payment id), then create
    the pending payment; or the stored 409 when the stock is not there."""
    payment_id, items = record.resource_id, record.request["items"]
    try:
        products = deps.catalog.reserve_priced(str(payment_id), items)
    except OutOfStock as exc:  # nothing reserved, nothing charged
        return _refused(deps, payment_id, errors.out_of_stock(exc.detail), "out_of_stock")
    except ReservationLapsed:  # a taken-over request whose reservation was let go
        return _refused(deps, payment_id, errors.lapsed(), "reservation_lapsed")
    except (NotFound, ValidationFailed):
        key_claims.forget(deps, payment_id)  # nothing was reserved; say which products are unknown
        _name_unknown(deps, items)
        raise errors.product_gone() from None
    except ServiceUnavailable:
        key_claims.forget(deps, payment_id)  # nobody got the request: nothing happened
        raise
    except Exception:
        key_claims.release(deps, payment_id)  # maybe reserved: a retry or the sweeper takes over
        raise
    try:
        priced = price_from(products, items)
    except ValidationFailed:  # several currencies, too large: give the units back first
        deps.catalog.release_reservation(str(payment_id))
        key_claims.forget(deps, payment_id)
        raise
    with deps.store.statement() as tx:
        return tx.payments.insert(payment_id, record.user_id, priced,
                                  record.request["payment_method"])


def drive(deps: Deps, payment_id: uuid.UUID, payment: Payment | None = None,
          reserved: bool = False) -> Outcome:
    """Take a payment from wherever it stands to a terminal state. `payment`: when the caller
    just wrote it; `reserved`: the caller reserved its stock just before."""
    if payment is None:
        with deps.store.transaction() as tx:
            payment = tx.payments.get(payment_id)
    if payment is None or payment.status != "pending":
        return key_claims.stored_outcome(deps, payment_id)
    if not reserved:
        outcome = _reserve_again(deps, payment)
        if outcome is not None:
            return outcome
    _checkpoint(deps, "reserve")
    charge = deps.provider.charge(idempotency_key=charge_key(payment.id), amount=payment.amount,
                                  currency=payment.currency,
                                  payment_method=payment.payment_method)
    _checkpoint(deps, "charge")
    return _settle(deps, payment, charge)


def _reserve_again(deps: Deps, payment: Payment) -> Outcome | None:
    """Resuming: reserve again (idempotent on the payment id); an Outcome ends the saga."""
    try:
        deps.catalog.reserve_stock(str(payment.id), [
            {"product_id": item["product_id"], "quantity": item["quantity"]}
            for item in payment.items])
    except (OutOfStock, ReservationLapsed) as exc:
        # Nothing is held now; unless the card was charged before, nothing was charged.
        earlier = deps.provider.find_charge(charge_key(payment.id))
        if earlier is not None:
            return _settle(deps, payment, earlier)
        if isinstance(exc, OutOfStock):
            return _refused(deps, payment.id, errors.out_of_stock(exc.detail), "out_of_stock",
                            payment_exists=True)
        return _refused(deps, payment.id, errors.lapsed(), "reservation_lapsed",
                        payment_exists=True)
    except (NotFound, ValidationFailed):
        _abandon(deps, payment)
        raise errors.product_gone() from None
    return None


def _settle(deps: Deps, payment: Payment, charge: Charge) -> Outcome:
    if charge.succeeded:
        body = views.payment(payment, status="succeeded")
        event = new_event("payments", "payment_succeeded", {
            "payment_id": str(payment.id), "user_id": str(payment.user_id),
            "amount": payment.amount, "currency": payment.currency,
            "items": [{"product_id": i["product_id"], "quantity": i["quantity"],
                       "unit_price": i["unit_price"]} for i in payment.items]})
        return _finish(deps, payment.id, Finish(True, charge.id, None, 201, body, event),
                       "succeeded")
    deps.catalog.release_reservation(str(payment.id))
    _checkpoint(deps, "release")
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


def _refused(deps: Deps, payment_id: uuid.UUID, error: Conflict, label: str,
             payment_exists: bool = False) -> Outcome:
    """Nothing is reserved or charged: only the 409 is kept (the payment, if any, is not)."""
    body = error.to_problem(errors.request_id())
    with deps.store.transaction() as tx:
        if payment_exists and not tx.payments.delete_pending(payment_id):
            gone = True  # another driver finished it first
        else:
            gone = False
            tx.keys.complete(payment_id, 409, body)
    if gone:
        return key_claims.stored_outcome(deps, payment_id)
    signals.checkout_finished(label)
    return Outcome(409, body)


def _abandon(deps: Deps, payment: Payment) -> None:
    # A product vanished after pricing: a validation failure, so nothing is stored.
    with deps.store.transaction() as tx:
        if tx.payments.delete_pending(payment.id):
            tx.keys.forget(payment.id)


def _name_unknown(deps: Deps, items: list[Item]) -> None:
    """Raise the 422 that names the unknown products, if the catalog says which they are."""
    try:
        found = deps.catalog.get_products([item["product_id"] for item in items])
    except NotFound:
        found = []
    price_from(found, items)


def _checkpoint(deps: Deps, step: str) -> None:
    if deps.crash_after == step:  # test hook (PAYMENTS_TEST_CRASH_AFTER)
        os.kill(os.getpid(), signal.SIGKILL)
