"""The refund flow (admin): full or partial, idempotent, never more than what was captured.

One database transaction holds the payment row lock while the provider refunds (keyed by the
refund id chosen when the Idempotency-Key was first seen), then records the refund, the new
payment status, the ledger transaction, the `payment_refunded` event and the stored response.
If the process dies after the provider refunded, the retried request (or the sweeper) runs the
same refund id again: the provider returns the refund it already made.
"""

from __future__ import annotations

import uuid
from typing import Any

from payments import errors, key_claims, signals, views
from payments.domain import KeyRecord, Outcome, refund_amount
from payments.ports import Deps, Transaction
from shared.errors import Conflict, NotFound, ValidationFailed


def execute(deps: Deps, record: KeyRecord) -> Outcome:
    try:
        with deps.store.transaction() as tx:
            body = _refund(deps, tx, record)
    except (NotFound, Conflict, ValidationFailed):
        key_claims.forget(deps, record.resource_id)  # refused before anything happened
        raise
    except Exception:
        key_claims.release(deps, record.resource_id)
        raise
    signals.refunded(body["amount"], body["currency"])
    return Outcome(201, body)


def _refund(deps: Deps, tx: Transaction, record: KeyRecord) -> dict[str, Any]:
    payment = tx.payments.get(uuid.UUID(record.request["payment_id"]), lock=True)
    if payment is None:
        raise errors.no_payment()
    restock: bool = record.request["restock"]
    amount = refund_amount(payment, record.request["amount"], restock)
    if payment.charge_id is None:  # a succeeded payment always has its charge
        raise RuntimeError(f"payment {payment.id} has no charge to refund")
    provider_refund = deps.provider.refund(idempotency_key=f"refund-{record.resource_id}",
                                           charge_id=payment.charge_id, amount=amount)
    refund = tx.payments.insert_refund(record.resource_id, payment, amount, restock,
                                       provider_refund.id, record.user_id)
    tx.payments.apply_refund(payment.id, amount)
    tx.ledger.post_refund(refund, payment.user_id)
    tx.events.record("payment_refunded", {
        "payment_id": str(payment.id), "refund_id": str(refund.id), "amount": amount,
        "currency": payment.currency, "restock": restock})
    body = views.refund(refund)
    tx.keys.complete(record.resource_id, 201, body)
    return body


def payment_id(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.no_payment() from None
