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

from payments import checkout_outcomes, errors, key_claims
from payments.domain import KeyRecord, Outcome, Payment, charge_key
from payments.ports import Charge, Deps
from payments.pricing import Item, price_from
from shared.errors import (
    Conflict,
    NotFound,
    OutOfStock,
    ReservationLapsed,
    ServiceUnavailable,
    ValidationFailed,
)


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
    except (OutOfStock, ReservationLapsed) as exc:  # nothing reserved, nothing charged
        return checkout_outcomes.refused(deps, payment_id, exc)
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
    except Conflict as exc:
        # Whatever the refusal says, a charge made before decides the outcome.
        earlier = deps.provider.find_charge(charge_key(payment.id))
        if earlier is not None:
            return _settle(deps, payment, earlier)
        if isinstance(exc, (OutOfStock, ReservationLapsed)):  # nothing held, nothing charged
            return checkout_outcomes.refused(deps, payment.id, exc, payment_exists=True)
        raise  # not an outcome: the key is released and the sweeper tries again
    except (NotFound, ValidationFailed):
        checkout_outcomes.abandon(deps, payment)
        raise errors.product_gone() from None
    return None


def _settle(deps: Deps, payment: Payment, charge: Charge) -> Outcome:
    if charge.succeeded:
        return checkout_outcomes.succeeded(deps, payment, charge)
    deps.catalog.release_reservation(str(payment.id))  # compensate, then record the decline
    _checkpoint(deps, "release")
    return checkout_outcomes.declined(deps, payment, charge)


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
