"""The checkout saga, orchestrated here: reserve stock -> charge -> record (+ event), or
compensate (release the reservation) on a decline.

`drive` takes a payment from wherever it stands to a terminal state. Every step is idempotent
(the reservation is keyed by the payment id, the charge by `charge_key(payment id)`, the
terminal write is a compare-and-set on `pending`), so the request that started the payment, a
retry of it and the sweeper can all call it: the card is charged at most once and exactly one
outcome is recorded, in the same statement as its ledger entries, its event and the idempotent
response (outcomes.py).
"""

from __future__ import annotations

import os
import signal
import uuid
from typing import Any

from sqlalchemy import select

from payments import errors, idempotency, outcomes, repository, schemas, signals
from payments.core import Deps, Outcome
from payments.model import idempotency_keys
from payments.provider import Charge
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.messaging.outbox import new_event


def charge_key(payment_id: uuid.UUID) -> str:
    return f"payment-{payment_id}"


def _checkpoint(deps: Deps, step: str) -> None:
    if deps.crash_after == step:
        os.kill(os.getpid(), signal.SIGKILL)


def drive(deps: Deps, payment_id: uuid.UUID, payment: Any = None,
          reserved: bool = False) -> Outcome:
    """`payment`: the row, when the caller just wrote it (saves a read); `reserved`: the
    caller reserved its stock just before creating it (saves the catalog call)."""
    if payment is None:
        with deps.uow() as uow:
            payment = repository.get(uow.session, payment_id)
    if payment is None or payment.status != "pending":
        return stored_outcome(deps, payment_id)
    if not reserved:
        outcome = _reserve(deps, payment)
        if outcome is not None:
            return outcome
    _checkpoint(deps, "reserve")
    charge = deps.provider.charge(idempotency_key=charge_key(payment.id), amount=payment.amount,
                                  currency=payment.currency,
                                  payment_method=payment.payment_method)
    _checkpoint(deps, "charge")
    return _settle(deps, payment, charge)


def _reserve(deps: Deps, payment: Any) -> Outcome | None:
    """Reserve (again: idempotent on the payment id) when resuming; an Outcome ends it."""
    try:
        deps.catalog.reserve_stock(str(payment.id), [
            {"product_id": item["product_id"], "quantity": item["quantity"]}
            for item in payment.items])
    except Conflict as exc:
        # Out of stock, or (resuming late) the reservation lapsed: unless the card was charged
        # before, nothing was reserved or charged.
        earlier = deps.provider.find_charge(charge_key(payment.id))
        if earlier is None:
            return _out_of_stock(deps, payment, exc.detail)
        return _settle(deps, payment, earlier)
    except (NotFound, ValidationFailed):
        _abandon(deps, payment)
        raise ValidationFailed("A product is no longer available.") from None
    return None


def _settle(deps: Deps, payment: Any, charge: Charge) -> Outcome:
    reservation = str(payment.id)
    if charge.succeeded:
        return _succeed(deps, payment, charge)
    deps.catalog.release_reservation(reservation)
    _checkpoint(deps, "release")
    return _fail(deps, payment, charge)


def _succeed(deps: Deps, payment: Any, charge: Charge) -> Outcome:
    body = schemas.payment_json(payment, status="succeeded")
    event = new_event("payments", "payment_succeeded", {
        "payment_id": str(payment.id), "user_id": str(payment.user_id),
        "amount": payment.amount, "currency": payment.currency,
        "items": [{"product_id": i["product_id"], "quantity": i["quantity"],
                   "unit_price": i["unit_price"]} for i in payment.items]})
    with deps.uow.autocommit() as conn:
        recorded = outcomes.record(conn, payment.id, succeeded=True, charge_id=charge.id,
                                   decline_code=None, status_code=201, body=body, event=event)
    if not recorded:
        return stored_outcome(deps, payment.id)
    signals.checkout_finished("succeeded")
    return Outcome(201, body)


def _fail(deps: Deps, payment: Any, charge: Charge) -> Outcome:
    code = charge.decline_code or "card_declined"
    body = errors.declined(code, payment.id).to_problem(errors.request_id())
    event = new_event("payments", "payment_failed", {
        "payment_id": str(payment.id), "user_id": str(payment.user_id), "decline_code": code})
    with deps.uow.autocommit() as conn:
        recorded = outcomes.record(conn, payment.id, succeeded=False, charge_id=charge.id,
                                   decline_code=code, status_code=402, body=body, event=event)
    if not recorded:
        return stored_outcome(deps, payment.id)
    signals.checkout_finished("declined", code)
    return Outcome(402, body)


def _out_of_stock(deps: Deps, payment: Any, detail: str) -> Outcome:
    # Nothing was reserved or charged: the payment is not kept, only the 409 outcome is.
    with deps.uow() as uow:
        if not repository.delete_pending(uow.session, payment.id):
            return stored_outcome(deps, payment.id)
        body = errors.out_of_stock(detail).to_problem(errors.request_id())
        idempotency.complete(uow.session, payment.id, 409, body)
    signals.checkout_finished("out_of_stock")
    return Outcome(409, body)


def _abandon(deps: Deps, payment: Any) -> None:
    # A product vanished after pricing: a validation failure, so nothing is stored.
    with deps.uow() as uow:
        if repository.delete_pending(uow.session, payment.id):
            idempotency.forget(uow.session, payment.id)


def stored_outcome(deps: Deps, resource_id: uuid.UUID) -> Outcome:
    with deps.uow() as uow:
        key = uow.session.execute(select(idempotency_keys).where(
            idempotency_keys.c.resource_id == resource_id)).one_or_none()
    if key is None or key.state != "completed":
        raise errors.in_flight()
    return Outcome(key.status_code, key.body, replayed=True)
