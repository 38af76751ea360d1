"""Refunds (admin): full or partial, idempotent, never more than what was captured.

One database transaction holds the payment row lock while the provider refunds (keyed by the
refund id chosen when the Idempotency-Key was first seen), then records the refund, the new
payment status, the ledger transaction, the `payment_refunded` event and the stored response.
If the process dies after the provider refunded, the retried request (or the sweeper) runs the
same refund id again: the provider returns the refund it already made.
"""

from __future__ import annotations

import uuid
from typing import Any

from payments import idempotency, ledger, repository, schemas, signals
from payments.core import Actor, Deps, Outcome, begin
from payments.key_states import KeyRecord
from payments.model import outbox
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.messaging.outbox import record_event

REFUNDABLE = ("succeeded", "partially_refunded")


def refund(deps: Deps, actor: Actor, payment_id: Any, key: Any, payload: Any) -> Outcome:
    key = schemas.check_key(key)
    target = _payment_id(payment_id)
    request = schemas.parse(schemas.RefundIn, payload or {})
    claim = begin(deps, actor, key, "refund", {"payment_id": str(target),
                                               "amount": request.amount,
                                               "restock": request.restock})
    if isinstance(claim, Outcome):
        return claim
    return execute(deps, claim.record)


def execute(deps: Deps, record: KeyRecord) -> Outcome:
    try:
        with deps.uow() as uow:
            body = _refund(deps, uow.session, record)
    except (NotFound, Conflict, ValidationFailed):
        with deps.uow() as uow:  # refused before anything happened: not stored
            idempotency.forget(uow.session, record.resource_id)
        raise
    except Exception:
        with deps.uow() as uow:
            idempotency.release(uow.session, record.resource_id)
        raise
    signals.refunded(body["amount"], body["currency"])
    return Outcome(201, body)


def _refund(deps: Deps, session: Any, record: KeyRecord) -> dict[str, Any]:
    payment = repository.get(session, uuid.UUID(record.request["payment_id"]), lock=True)
    if payment is None:
        raise NotFound("No such payment.")
    left = payment.amount - payment.refunded_amount
    if payment.status == "refunded" or (payment.status in REFUNDABLE and left == 0):
        raise Conflict("The payment is already fully refunded.")
    if payment.status not in REFUNDABLE:
        raise Conflict(f"Only a succeeded payment can be refunded; this one is {payment.status}.")
    amount: int = record.request["amount"] or left
    restock: bool = record.request["restock"]
    if amount > left:
        raise ValidationFailed(f"At most {left} {payment.currency} is left to refund.",
                               [{"field": "amount", "message": "more than what is left"}])
    if restock and amount != left:
        raise ValidationFailed("Restock is allowed only on the refund that completes the "
                               "payment's refund.",
                               [{"field": "restock", "message": "not allowed on a partial refund"}])
    provider_refund = deps.provider.refund(idempotency_key=f"refund-{record.resource_id}",
                                           charge_id=payment.charge_id, amount=amount)
    row = repository.insert_refund(
        session, refund_id=record.resource_id, payment_id=payment.id, amount=amount,
        currency=payment.currency, restock=restock, provider_refund_id=provider_refund.id,
        created_by=record.user_id)
    repository.apply_refund(session, payment.id, amount)
    ledger.post_refund(session, row.id, payment.id, payment.user_id, amount, payment.currency)
    record_event(session, outbox, "payments", "payment_refunded", {
        "payment_id": str(payment.id), "refund_id": str(row.id), "amount": amount,
        "currency": payment.currency, "restock": restock})
    body = schemas.refund_json(row)
    idempotency.complete(session, record.resource_id, 201, body)
    return body


def _payment_id(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("No such payment.") from None
