"""The built-in card simulator: a `CardProvider` that keeps its charges in its own tables
(`simulator_charges`, `simulator_refunds` in the payments database), honouring idempotency keys
the way a real provider does: the same key returns the stored result and never charges again.

Tokens: `tok_visa` succeeds; `tok_chargeDeclined` -> card_declined;
`tok_chargeDeclinedInsufficientFunds` -> insufficient_funds; `tok_processingError` fails
transiently on every call (nothing is stored); anything else is not a payment method.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from payments.model import simulator_charges, simulator_refunds
from payments.ports import Charge, ProviderRefund
from payments.provider import ProviderError, TransientProviderError
from shared.db import UnitOfWorkFactory

OUTCOMES: dict[str, str | None] = {
    "tok_visa": None,
    "tok_chargeDeclined": "card_declined",
    "tok_chargeDeclinedInsufficientFunds": "insufficient_funds",
}
TRANSIENT = frozenset({"tok_processingError"})
# Built once, values bound per call: the same key returns nothing, never a second charge.
_CHARGE = (pg_insert(simulator_charges)
           .on_conflict_do_nothing(index_elements=["idempotency_key"])
           .returning(*simulator_charges.c))


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _charge(row: Any) -> Charge:
    if row.status == "succeeded":
        return Charge(id=row.id, status="succeeded")
    return Charge(id=row.id, status="declined", decline_code=row.decline_code)


class CardSimulator:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow

    def accepts(self, payment_method: str) -> bool:
        return payment_method in OUTCOMES or payment_method in TRANSIENT

    def charge(self, *, idempotency_key: str, amount: int, currency: str,
               payment_method: str) -> Charge:
        if payment_method in TRANSIENT:
            raise TransientProviderError("simulated processing error")
        if payment_method not in OUTCOMES:
            raise ProviderError("unsupported payment method")
        decline_code = OUTCOMES[payment_method]
        # One statement, so no transaction around it: ON CONFLICT waits for a concurrent
        # insert of the key and then returns nothing, and the row it lost to is committed.
        with self.uow.autocommit() as conn:
            row = conn.execute(_CHARGE, {
                "id": _new_id("ch"), "idempotency_key": idempotency_key, "amount": amount,
                "currency": currency, "payment_method": payment_method,
                "status": "declined" if decline_code else "succeeded",
                "decline_code": decline_code}).one_or_none()
            if row is None:  # the key was seen before: the stored result, never a new charge
                row = conn.execute(select(simulator_charges).where(
                    simulator_charges.c.idempotency_key == idempotency_key)).one()
        if (row.amount, row.currency, row.payment_method) != (amount, currency, payment_method):
            raise ProviderError("idempotency key reused with different parameters")
        return _charge(row)

    def find_charge(self, idempotency_key: str) -> Charge | None:
        with self.uow() as uow:
            row = uow.session.execute(select(simulator_charges).where(
                simulator_charges.c.idempotency_key == idempotency_key)).one_or_none()
        return None if row is None else _charge(row)

    def refund(self, *, idempotency_key: str, charge_id: str, amount: int) -> ProviderRefund:
        with self.uow() as uow:
            charge = uow.session.execute(select(simulator_charges).where(
                simulator_charges.c.id == charge_id).with_for_update()).one_or_none()
            if charge is None or charge.status != "succeeded":
                raise ProviderError("no such captured charge")
            done = uow.session.execute(select(simulator_refunds).where(
                simulator_refunds.c.idempotency_key == idempotency_key)).one_or_none()
            if done is not None:
                if (done.charge_id, done.amount) != (charge_id, amount):
                    raise ProviderError("idempotency key reused with different parameters")
                return ProviderRefund(done.id, done.charge_id, done.amount)
            if charge.refunded_amount + amount > charge.amount:
                raise ProviderError("refund exceeds the captured amount")
            refund_id = _new_id("re")
            uow.session.execute(insert(simulator_refunds).values(
                id=refund_id, idempotency_key=idempotency_key, charge_id=charge_id,
                amount=amount))
            uow.session.execute(update(simulator_charges).where(
                simulator_charges.c.id == charge_id).values(
                refunded_amount=simulator_charges.c.refunded_amount + amount))
        return ProviderRefund(refund_id, charge_id, amount)
