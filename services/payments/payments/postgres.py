"""The PostgreSQL adapter: every statement payments runs on its own tables (the card simulator's
tables are the simulator's), behind the ports of ports.py.

Hot statements are built once and their values bound per call: building them per call cost more
CPU than PostgreSQL spends running them. State changes are compare-and-set on `status`/`state`,
so two drivers of one saga (a retried request and the sweeper) never both apply an outcome.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import (
    Connection,
    Interval,
    TextClause,
    Uuid,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from payments.domain import KeyRecord, Payment, Priced, Refund
from payments.model import idempotency_keys as keys
from payments.model import ledger_entries as entries
from payments.model import outbox, payments, refunds
from payments.ports import Finish
from shared.db import UnitOfWorkFactory
from shared.messaging.outbox import NOTIFY_CHANNEL, event_columns, record_event

Db = Session | Connection
_LEASE_FOR = bindparam("lease_for", type_=Interval)
_CLAIM = (pg_insert(keys).values(locked_until=func.now() + _LEASE_FOR)
          .on_conflict_do_nothing().returning(*keys.c))
_COMPLETE = (update(keys).where(keys.c.resource_id == bindparam("rid"),
                                keys.c.state == "in_flight")
             .values(state="completed", completed_at=func.now()))
_INSERT_PAYMENT = insert(payments).returning(*payments.c)


# A terminal outcome in one statement (one round trip instead of a transaction's six): the
# compare-and-set on `pending`; the capture, the event (and the relay's wake-up) and the stored
# response hang off it, so if another driver finished first none of them happens.
_FINISH = """
    WITH p AS (UPDATE payments SET status = :status, charge_id = :charge_id,
                                   decline_code = :decline_code, updated_at = now()
               WHERE id = :pid AND status = 'pending' RETURNING id, user_id, amount, currency),
         {capture}
         o AS (INSERT INTO outbox (event_id, exchange, event_type, payload, headers)
               SELECT :b_event_id, :b_exchange, :b_event_type, :b_payload, :b_headers FROM p),
         k AS (UPDATE idempotency_keys SET state = 'completed', completed_at = now(),
                                           status_code = :status_code, body = :body
               WHERE resource_id = :pid AND state = 'in_flight' AND EXISTS (SELECT FROM p))
    SELECT pg_notify('{channel}', '') FROM p"""
CASH, SALES = "provider_cash", "sales"  # ledger accounts (docs/adr/0005)
_CAPTURE = f"""
         l AS (INSERT INTO ledger_entries
                      (transaction_id, kind, payment_id, user_id, account, amount, currency)
               SELECT p.id, 'capture', p.id, p.user_id, e.account, e.sign * p.amount, p.currency
               FROM p, (VALUES ('{CASH}', 1), ('{SALES}', -1)) AS e(account, sign)
               ON CONFLICT ON CONSTRAINT uq_ledger_transaction_account DO NOTHING),"""


def _finish(capture: str) -> TextClause:
    sql = _FINISH.format(capture=capture, channel=NOTIFY_CHANNEL)
    return text(sql).bindparams(bindparam("pid", type_=Uuid), bindparam("body", type_=JSONB),
                                *event_columns(outbox))


_SUCCEEDED, _FAILED = _finish(_CAPTURE), _finish("")
_POST = pg_insert(entries).values([  # both entries of a movement in one INSERT
    {**{name: bindparam(name) for name in ("transaction_id", "kind", "payment_id", "user_id",
                                           "currency")},
     "account": bindparam(f"account_{side}"), "amount": bindparam(f"amount_{side}")}
    for side in ("debit", "credit")]).on_conflict_do_nothing(
        constraint="uq_ledger_transaction_account")
_UNBALANCED = text("""
    SELECT transaction_id, currency, SUM(amount)::bigint AS total FROM ledger_entries
    GROUP BY transaction_id, currency HAVING SUM(amount) <> 0""")
_BALANCES = text("""
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


def _key(row: Any) -> KeyRecord:
    return KeyRecord(user_id=row.user_id, key=row.key, kind=row.kind, fingerprint=row.fingerprint,
                     state=row.state, resource_id=row.resource_id, request=row.request,
                     status_code=row.status_code, body=row.body)


def _payment(row: Any) -> Payment:
    return Payment(id=row.id, user_id=row.user_id, status=row.status, amount=row.amount,
                   currency=row.currency, refunded_amount=row.refunded_amount,
                   decline_code=row.decline_code, payment_method=row.payment_method,
                   items=row.items, charge_id=row.charge_id, created_at=row.created_at)


def _lease(seconds: float) -> Any:
    return func.now() + dt.timedelta(seconds=seconds)


def _pk(user_id: uuid.UUID, key: str) -> Any:
    return and_(keys.c.user_id == user_id, keys.c.key == key)


class PgKeys:
    def __init__(self, db: Db) -> None:
        self.db = db

    def insert_new(self, user_id: uuid.UUID, key: str, kind: str, request: dict[str, Any],
                   fingerprint: str, lease_seconds: float) -> KeyRecord | None:
        row = self.db.execute(_CLAIM, {
            "user_id": user_id, "key": key, "kind": kind, "fingerprint": fingerprint,
            "request": request, "state": "in_flight", "resource_id": uuid.uuid4(),
            "lease_for": dt.timedelta(seconds=lease_seconds)}).one_or_none()
        return None if row is None else _key(row)

    def lock(self, user_id: uuid.UUID, key: str) -> tuple[KeyRecord, bool] | None:
        row = self.db.execute(
            select(keys, (keys.c.locked_until <= func.now()).label("expired"))
            .where(_pk(user_id, key)).with_for_update()).one_or_none()
        return None if row is None else (_key(row), bool(row.expired))

    def extend_lease(self, user_id: uuid.UUID, key: str, lease_seconds: float) -> None:
        self.db.execute(update(keys).where(_pk(user_id, key))
                        .values(locked_until=_lease(lease_seconds)))

    def by_resource(self, resource_id: uuid.UUID) -> KeyRecord | None:
        row = self.db.execute(select(keys).where(keys.c.resource_id == resource_id)).one_or_none()
        return None if row is None else _key(row)

    def complete(self, resource_id: uuid.UUID, status_code: int, body: Any) -> None:
        self.db.execute(_COMPLETE, {"rid": resource_id, "status_code": status_code, "body": body})

    def forget(self, resource_id: uuid.UUID) -> None:
        self.db.execute(delete(keys).where(keys.c.resource_id == resource_id,
                                           keys.c.state == "in_flight"))

    def release(self, resource_id: uuid.UUID) -> None:
        self.db.execute(update(keys).where(keys.c.resource_id == resource_id,
                                           keys.c.state == "in_flight")
                        .values(locked_until=func.now()))

    def claim_abandoned(self, limit: int, lease_seconds: float) -> list[KeyRecord]:
        stale = (select(keys.c.user_id, keys.c.key)  # SKIP LOCKED: several replicas sweep
                 .where(keys.c.state == "in_flight", keys.c.locked_until < func.now())
                 .order_by(keys.c.locked_until).limit(limit).with_for_update(skip_locked=True))
        rows = self.db.execute(
            update(keys).where(keys.c.state == "in_flight",
                               tuple_(keys.c.user_id, keys.c.key).in_(stale))
            .values(locked_until=_lease(lease_seconds)).returning(*keys.c)).all()
        return [_key(row) for row in rows]

    def prune(self, retention_hours: float) -> int:
        cutoff = func.now() - dt.timedelta(hours=retention_hours)
        result = self.db.execute(delete(keys).where(keys.c.state == "completed",
                                                    keys.c.completed_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class PgPayments:
    def __init__(self, db: Db) -> None:
        self.db = db

    def insert(self, payment_id: uuid.UUID, user_id: uuid.UUID, priced: Priced,
               payment_method: str) -> Payment:
        return _payment(self.db.execute(_INSERT_PAYMENT, {
            "id": payment_id, "user_id": user_id, "status": "pending", "amount": priced.amount,
            "currency": priced.currency, "payment_method": payment_method,
            "items": priced.items}).one())

    def get(self, payment_id: uuid.UUID, lock: bool = False) -> Payment | None:
        query = select(payments).where(payments.c.id == payment_id)
        row = self.db.execute(query.with_for_update() if lock else query).one_or_none()
        return None if row is None else _payment(row)

    def delete_pending(self, payment_id: uuid.UUID) -> bool:
        result = self.db.execute(delete(payments).where(payments.c.id == payment_id,
                                                        payments.c.status == "pending"))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def finish(self, payment_id: uuid.UUID, outcome: Finish) -> bool:
        statement = _SUCCEEDED if outcome.succeeded else _FAILED
        return self.db.execute(statement, {
            "pid": payment_id, "status": "succeeded" if outcome.succeeded else "failed",
            "charge_id": outcome.charge_id, "decline_code": outcome.decline_code,
            "status_code": outcome.status_code, "body": outcome.body, **outcome.event,
        }).first() is not None

    def apply_refund(self, payment_id: uuid.UUID, amount: int) -> Payment:
        refunded = payments.c.refunded_amount + amount
        return _payment(self.db.execute(
            update(payments).where(payments.c.id == payment_id).values(
                refunded_amount=refunded, updated_at=func.now(),
                status=case((refunded >= payments.c.amount, "refunded"),
                            else_="partially_refunded"))
            .returning(*payments.c)).one())

    def insert_refund(self, refund_id: uuid.UUID, payment: Payment, amount: int, restock: bool,
                      provider_refund_id: str, created_by: uuid.UUID) -> Refund:
        row = self.db.execute(insert(refunds).values(
            id=refund_id, payment_id=payment.id, amount=amount, currency=payment.currency,
            restock=restock, provider_refund_id=provider_refund_id, created_by=created_by,
        ).returning(*refunds.c)).one()
        return Refund(id=row.id, payment_id=row.payment_id, amount=row.amount,
                      currency=row.currency, restock=row.restock, created_at=row.created_at)

    def page(self, user_id: uuid.UUID, limit: int,
             after: tuple[dt.datetime, uuid.UUID] | None) -> list[Payment]:
        query = select(payments).where(payments.c.user_id == user_id)  # keyset: stable pages
        if after is not None:
            query = query.where(tuple_(payments.c.created_at, payments.c.id) < tuple_(*after))
        query = query.order_by(payments.c.created_at.desc(), payments.c.id.desc()).limit(limit)
        return [_payment(row) for row in self.db.execute(query)]

    def pending(self, limit: int) -> tuple[int, list[tuple[Payment, float]]]:
        age = func.extract("epoch", func.now() - payments.c.created_at)
        count = self.db.execute(select(func.count()).where(payments.c.status == "pending")
                                ).scalar_one()
        rows = self.db.execute(select(payments, age.label("age"))
                               .where(payments.c.status == "pending")
                               .order_by(payments.c.created_at).limit(limit)).all()
        return int(count), [(_payment(row), float(row.age)) for row in rows]


class PgLedger:
    """Double entry: a capture debits cash and credits sales, a refund the reverse; a
    movement's transaction id (payment or refund id) is unique per account."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def post_refund(self, refund: Refund, user_id: uuid.UUID) -> None:
        self.db.execute(_POST, {
            "transaction_id": refund.id, "kind": "refund", "payment_id": refund.payment_id,
            "user_id": user_id, "currency": refund.currency, "account_debit": SALES,
            "amount_debit": refund.amount, "account_credit": CASH,
            "amount_credit": -refund.amount})

    def spent_by_user(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = self.db.execute(
            select(entries.c.currency, func.sum(entries.c.amount).label("total"))
            .where(entries.c.user_id == user_id, entries.c.account == SALES)
            .group_by(entries.c.currency).order_by(entries.c.currency))
        return [{"amount": -int(row.total), "currency": row.currency} for row in rows]

    def reconcile(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = [
            {"check": "transaction_balances", "transaction_id": str(row.transaction_id),
             "currency": row.currency, "expected": 0, "actual": int(row.total)}
            for row in self.db.execute(_UNBALANCED)]
        for row in self.db.execute(_BALANCES):
            checks = (("ledger_balance", row.expected, row.ledger),
                      ("refunds_total", row.refunded_amount, row.refunds),
                      ("status", row.expected_status, row.status))
            found += [{"check": name, "payment_id": str(row.id), "expected": expected,
                       "actual": actual} for name, expected, actual in checks if expected != actual]
        return found + [{"check": "ledger_without_payment", "payment_id": str(row.payment_id)}
                        for row in self.db.execute(_ORPHANS)]


class PgEvents:
    def __init__(self, db: Db) -> None:
        self.db = db

    def record(self, event_type: str, payload: dict[str, Any]) -> None:
        record_event(self.db, outbox, "payments", event_type, payload)  # type: ignore[arg-type]


class PgTransaction:
    """The repositories on one session or connection, each made when it is used."""

    __slots__ = ("db",)

    def __init__(self, db: Db) -> None:
        self.db = db

    @property
    def keys(self) -> PgKeys:
        return PgKeys(self.db)

    @property
    def payments(self) -> PgPayments:
        return PgPayments(self.db)

    @property
    def ledger(self) -> PgLedger:
        return PgLedger(self.db)

    @property
    def events(self) -> PgEvents:
        return PgEvents(self.db)


class _Block:
    """A `with` block on a unit of work's session or an autocommit connection (a class, not a
    generator: the checkout enters three of them)."""

    __slots__ = ("inner", "session")

    def __init__(self, inner: AbstractContextManager[Any], session: bool) -> None:
        self.inner, self.session = inner, session

    def __enter__(self) -> PgTransaction:
        opened = self.inner.__enter__()
        return PgTransaction(opened.session if self.session else opened)

    def __exit__(self, *exc_info: Any) -> bool | None:
        return self.inner.__exit__(*exc_info)


class PostgresStore:
    def __init__(self, factory: UnitOfWorkFactory) -> None:
        self.factory = factory

    def transaction(self) -> _Block:
        return _Block(self.factory(), session=True)

    def statement(self) -> _Block:
        return _Block(self.factory.autocommit(), session=False)
