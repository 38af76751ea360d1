"""A payment's terminal outcome, recorded in one statement.

The compare-and-set on `pending`, the ledger's capture, the event in the outbox (and the relay's
wake-up), and the stored idempotent response all hang off the one UPDATE: if it matched no
pending payment (another driver of the saga finished first), none of them happens. One
statement commits alone, so this is one round trip instead of a transaction's six.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, TextClause, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from payments import ledger
from payments.model import outbox
from shared.messaging.outbox import NOTIFY_CHANNEL, event_columns

_FINISH = """
    WITH p AS (UPDATE payments SET status = :status, charge_id = :charge_id,
                                   decline_code = :decline_code, updated_at = now()
               WHERE id = :pid AND status = 'pending' RETURNING id, user_id, amount, currency),
         {ledger}
         o AS (INSERT INTO outbox (event_id, exchange, event_type, payload, headers)
               SELECT :b_event_id, :b_exchange, :b_event_type, :b_payload, :b_headers FROM p),
         k AS (UPDATE idempotency_keys SET state = 'completed', completed_at = now(),
                                           status_code = :status_code, body = :body
               WHERE resource_id = :pid AND state = 'in_flight' AND EXISTS (SELECT FROM p))
    SELECT pg_notify('{channel}', '') FROM p"""

# Both entries of the capture (debit cash, credit sales) from the payment the UPDATE returned.
_CAPTURE = f"""
         l AS (INSERT INTO ledger_entries
                      (transaction_id, kind, payment_id, user_id, account, amount, currency)
               SELECT p.id, 'capture', p.id, p.user_id, e.account, e.sign * p.amount, p.currency
               FROM p, (VALUES ('{ledger.CASH}', 1), ('{ledger.SALES}', -1)) AS e(account, sign)
               ON CONFLICT ON CONSTRAINT uq_ledger_transaction_account DO NOTHING),"""


def _statement(ledger_part: str) -> TextClause:
    sql = _FINISH.format(ledger=ledger_part, channel=NOTIFY_CHANNEL)
    return text(sql).bindparams(bindparam("pid", type_=Uuid),
                                bindparam("body", type_=JSONB), *event_columns(outbox))


_SUCCEEDED = _statement(_CAPTURE)
_FAILED = _statement("")


def record(conn: Connection, payment_id: uuid.UUID, *, succeeded: bool, charge_id: str | None,
           decline_code: str | None, status_code: int, body: Any,
           event: dict[str, Any]) -> bool:
    """Finish the pending payment with its event (`shared.messaging.outbox.new_event`) and its
    response; False when it was not pending any more (nothing was written)."""
    statement = _SUCCEEDED if succeeded else _FAILED
    row = conn.execute(statement, {
        "pid": payment_id, "status": "succeeded" if succeeded else "failed",
        "charge_id": charge_id, "decline_code": decline_code, "status_code": status_code,
        "body": body, **event}).first()
    return row is not None
