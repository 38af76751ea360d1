"""Reading and writing payments and refunds. State changes are compare-and-set on `status`, so
two drivers of one saga (a retried request and the sweeper) can never both apply an outcome."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from payments.model import payments, refunds

Row = Any
# Hot statements built once, their values bound per call (see idempotency._CLAIM).
_INSERT = insert(payments).returning(*payments.c)


def insert_payment(session: Session | Connection, *, payment_id: uuid.UUID,
                   user_id: uuid.UUID, amount: int, currency: str, payment_method: str,
                   items: list[dict[str, Any]]) -> Row:
    return session.execute(_INSERT, {
        "id": payment_id, "user_id": user_id, "status": "pending", "amount": amount,
        "currency": currency, "payment_method": payment_method, "items": items}).one()


def get(session: Session, payment_id: uuid.UUID, lock: bool = False) -> Row | None:
    query = select(payments).where(payments.c.id == payment_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).one_or_none()


def delete_pending(session: Session, payment_id: uuid.UUID) -> bool:
    result = session.execute(delete(payments).where(payments.c.id == payment_id,
                                                    payments.c.status == "pending"))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def apply_refund(session: Session, payment_id: uuid.UUID, amount: int) -> Row:
    refunded = payments.c.refunded_amount + amount
    return session.execute(
        update(payments).where(payments.c.id == payment_id).values(
            refunded_amount=refunded, updated_at=func.now(),
            status=case((refunded >= payments.c.amount, "refunded"),
                        else_="partially_refunded"))
        .returning(*payments.c)).one()


def insert_refund(session: Session, *, refund_id: uuid.UUID, payment_id: uuid.UUID, amount: int,
                  currency: str, restock: bool, provider_refund_id: str,
                  created_by: uuid.UUID) -> Row:
    return session.execute(insert(refunds).values(
        id=refund_id, payment_id=payment_id, amount=amount, currency=currency, restock=restock,
        provider_refund_id=provider_refund_id, created_by=created_by,
    ).returning(*refunds.c)).one()


def page(session: Session, user_id: uuid.UUID, limit: int,
         after: tuple[dt.datetime, uuid.UUID] | None) -> list[Row]:
    """Newest first, keyset on (created_at, id): stable while new payments arrive."""
    query = select(payments).where(payments.c.user_id == user_id)
    if after is not None:
        query = query.where(tuple_(payments.c.created_at, payments.c.id) < tuple_(*after))
    query = query.order_by(payments.c.created_at.desc(), payments.c.id.desc()).limit(limit)
    return list(session.execute(query).all())
