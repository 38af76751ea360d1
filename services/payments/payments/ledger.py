"""Double-entry ledger: every money movement is a transaction whose entries sum to zero.

Accounts (debit > 0, credit < 0):
- `provider_cash`: asset, what the provider holds for us; debited by a capture, credited by a
  refund.
- `sales`: what customers paid for goods; credited by a capture, debited by a refund.
So for every payment: captured - refunded = -(sum of its `sales` entries). A capture's
transaction id is the payment id and a refund's is the refund id; (transaction, account) is
unique, so posting the same movement twice is impossible.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from payments.model import ledger_entries as entries

_COMMON = ("transaction_id", "kind", "payment_id", "user_id", "currency")
# Built once, values bound per call; both entries in one multi-row INSERT (one round trip).
_INSERT = insert(entries).values([
    {**{name: bindparam(name) for name in _COMMON}, "account": bindparam(f"account_{side}"),
     "amount": bindparam(f"amount_{side}")} for side in ("debit", "credit")
]).on_conflict_do_nothing(constraint="uq_ledger_transaction_account")
CASH = "provider_cash"
SALES = "sales"


def _post(session: Session, kind: str, transaction_id: uuid.UUID, payment_id: uuid.UUID,
          user_id: uuid.UUID, amount: int, currency: str, debit: str, credit: str) -> None:
    common = {"transaction_id": transaction_id, "kind": kind, "payment_id": payment_id,
              "user_id": user_id, "currency": currency}
    session.execute(_INSERT, {**common, "account_debit": debit, "amount_debit": amount,
                              "account_credit": credit, "amount_credit": -amount})


def post_refund(session: Session, refund_id: uuid.UUID, payment_id: uuid.UUID,
                user_id: uuid.UUID, amount: int, currency: str) -> None:
    _post(session, "refund", refund_id, payment_id, user_id, amount, currency, SALES, CASH)


def balance(session: Session, payment_id: uuid.UUID) -> int:
    total = session.execute(select(func.coalesce(func.sum(entries.c.amount), 0)).where(
        entries.c.payment_id == payment_id, entries.c.account == SALES)).scalar_one()
    return -int(total)


def spent_by_user(session: Session, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Captured minus refunded, one entry per currency."""
    rows = session.execute(
        select(entries.c.currency, func.sum(entries.c.amount).label("total"))
        .where(entries.c.user_id == user_id, entries.c.account == SALES)
        .group_by(entries.c.currency).order_by(entries.c.currency)).all()
    return [{"amount": -int(row.total), "currency": row.currency} for row in rows]


_UNBALANCED = text("""
    SELECT transaction_id, currency, SUM(amount)::bigint AS total FROM ledger_entries
    GROUP BY transaction_id, currency HAVING SUM(amount) <> 0""")

_PAYMENTS = text("""
    WITH l AS (SELECT payment_id, -SUM(amount)::bigint AS balance FROM ledger_entries
               WHERE account = 'sales' GROUP BY payment_id),
         r AS (SELECT payment_id, SUM(amount)::bigint AS total FROM refunds GROUP BY payment_id)
    SELECT p.id, p.status, p.refunded_amount,
           CASE WHEN p.status IN ('succeeded', 'partially_refunded', 'refunded')
                THEN p.amount - p.refunded_amount ELSE 0 END AS expected,
           COALESCE(l.balance, 0) AS ledger, COALESCE(r.total, 0) AS refunds,
           CASE WHEN p.status NOT IN ('succeeded', 'partially_refunded', 'refunded')
                THEN p.status
                WHEN p.refunded_amount = 0 THEN 'succeeded'
                WHEN p.refunded_amount < p.amount THEN 'partially_refunded'
                ELSE 'refunded' END AS expected_status
    FROM payments p LEFT JOIN l ON l.payment_id = p.id LEFT JOIN r ON r.payment_id = p.id""")

_ORPHANS = text("""
    SELECT DISTINCT e.payment_id FROM ledger_entries e
    LEFT JOIN payments p ON p.id = e.payment_id WHERE p.id IS NULL""")


def reconcile(session: Session) -> list[dict[str, Any]]:
    """Every inconsistency between payments, refunds and the ledger; empty when all is well."""
    found: list[dict[str, Any]] = [
        {"check": "transaction_balances", "transaction_id": str(row.transaction_id),
         "currency": row.currency, "expected": 0, "actual": int(row.total)}
        for row in session.execute(_UNBALANCED)]
    for row in session.execute(_PAYMENTS):
        checks = (("ledger_balance", row.expected, row.ledger),
                  ("refunds_total", row.refunded_amount, row.refunds),
                  ("status", row.expected_status, row.status))
        found += [{"check": name, "payment_id": str(row.id), "expected": expected,
                   "actual": actual} for name, expected, actual in checks if expected != actual]
    found += [{"check": "ledger_without_payment", "payment_id": str(row.payment_id)}
              for row in session.execute(_ORPHANS)]
    return found
