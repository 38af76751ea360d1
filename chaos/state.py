"""Reading the per-service databases: quiescence probes and the final snapshot the checker uses.

Plain SQL with short-lived connections (NullPool): the nemesis restarts PostgreSQL under us.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from shared.messaging.lag import outbox_lag

SUCCEEDED_HANDLER = "catalog.on_payment_succeeded"
REFUNDED_HANDLER = "catalog.on_payment_refunded"


class Databases:
    def __init__(self, urls: dict[str, str]) -> None:
        self.engines: dict[str, Engine] = {
            name: create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
            for name, url in urls.items()}

    def rows(self, service: str, sql: str, **params: Any) -> list[Any]:
        with self.engines[service].connect() as conn:
            return list(conn.execute(text(sql), params))

    def scalar(self, service: str, sql: str, **params: Any) -> Any:
        with self.engines[service].connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def applied(self, event_id: str) -> bool:
        """Has the catalog applied (inbox row committed) this payment_succeeded event?"""
        return bool(self.scalar("catalog", "SELECT count(*) FROM inbox WHERE handler = :h AND "
                                "message_id = :m", h=SUCCEEDED_HANDLER, m=event_id))

    def unsettled(self) -> dict[str, int]:
        """What is still moving: outbox rows to publish, payments and keys not terminal,
        reservations still holding stock."""
        found = {f"outbox_pending.{name}": outbox_lag(engine).pending
                 for name, engine in self.engines.items()}
        found["payments_pending"] = self.scalar(
            "payments", "SELECT count(*) FROM payments WHERE status = 'pending'")
        found["keys_in_flight"] = self.scalar(
            "payments", "SELECT count(*) FROM idempotency_keys WHERE state = 'in_flight'")
        found["reservations_active"] = self.scalar(
            "catalog", "SELECT count(*) FROM reservations WHERE status = 'active'")
        return found

    def reconcile(self) -> list[dict[str, Any]]:
        """payments' own reconciliation (captured - refunded = ledger balance, ...)."""
        from payments.postgres import PgLedger

        with Session(self.engines["payments"]) as session:
            return PgLedger(session).reconcile()

    def dispose(self) -> None:
        for engine in self.engines.values():
            engine.dispose()


@dataclass
class Snapshot:
    keys: dict[str, Any]  # client Idempotency-Key -> idempotency_keys row
    payments: dict[str, Any]  # payment id -> row
    charges: dict[str, list[Any]]  # payment id -> simulator charges with its key
    stray_charges: list[str]  # charge keys that name no payment
    products: dict[str, Any]  # product id -> row (+ movements total)
    reservations: dict[str, Any]  # reservation id -> {status, items}
    sold_movements: dict[str, int]  # reservation id -> number of "sold" movements
    succeeded_events: dict[str, list[str]]  # payment id -> payment_succeeded event ids
    refunds: dict[str, list[Any]]  # payment id -> refund rows
    refunded_events: dict[str, list[str]]  # payment id -> payment_refunded event ids
    restock_movements: dict[str, int]  # payment id -> number of "refund restock" movements
    inbox: set[str] = field(default_factory=set)  # event ids the catalog applied (both kinds)
    refresh_hashes: set[str] = field(default_factory=set)
    reconcile: list[dict[str, Any]] = field(default_factory=list)


def snapshot(db: Databases) -> Snapshot:
    keys = {r.key: r for r in db.rows("payments", "SELECT * FROM idempotency_keys")}
    payments = {str(r.id): r for r in db.rows("payments", "SELECT * FROM payments")}
    charges: dict[str, list[Any]] = defaultdict(list)
    stray: list[str] = []
    for charge in db.rows("payments", "SELECT * FROM simulator_charges"):
        payment_id = charge.idempotency_key.removeprefix("payment-")
        (charges[payment_id].append(charge) if payment_id in payments
         else stray.append(charge.idempotency_key))
    products = {str(r.id): r for r in db.rows("catalog", """
        SELECT p.id, p.on_hand, p.reserved, COALESCE(SUM(m.delta), 0) AS movements,
               COALESCE(SUM(m.delta) FILTER (WHERE m.reason = 'initial stock'), 0) AS initial
        FROM products p LEFT JOIN stock_movements m ON m.product_id = p.id
        WHERE p.category = 'chaos' GROUP BY p.id""")}
    reservations: dict[str, Any] = {}
    for r in db.rows("catalog", "SELECT r.id, r.status, r.restocked_at, i.product_id, "
                     "i.quantity FROM reservations r "
                     "LEFT JOIN reservation_items i ON i.reservation_id = r.id"):
        entry = reservations.setdefault(r.id, {"status": r.status, "items": {},
                                               "restocked": r.restocked_at is not None})
        if r.product_id is not None:
            entry["items"][str(r.product_id)] = r.quantity
    sold = {r.rid: int(r.n) for r in db.rows("catalog", """
        SELECT substring(reason from 'reservation (.*)$') AS rid, count(*) AS n
        FROM stock_movements WHERE reason LIKE 'sold%reservation %' GROUP BY 1""")}
    events: dict[str, dict[str, list[str]]] = {"payment_succeeded": defaultdict(list),
                                               "payment_refunded": defaultdict(list)}
    for r in db.rows("payments", "SELECT event_type, event_id, payload->>'payment_id' AS pid "
                     "FROM outbox WHERE event_type IN ('payment_succeeded', 'payment_refunded')"):
        events[r.event_type][r.pid].append(str(r.event_id))
    refunds: dict[str, list[Any]] = defaultdict(list)
    for r in db.rows("payments", "SELECT * FROM refunds"):
        refunds[str(r.payment_id)].append(r)
    restocks = {r.pid: int(r.n) for r in db.rows("catalog", """
        SELECT substring(reason from 'payment (.*)$') AS pid, count(*) AS n
        FROM stock_movements WHERE reason LIKE 'refund restock: payment %' GROUP BY 1""")}
    inbox = {r.message_id for r in db.rows(
        "catalog", "SELECT message_id FROM inbox WHERE handler IN (:s, :r)",
        s=SUCCEEDED_HANDLER, r=REFUNDED_HANDLER)}
    hashes = {bytes(r.token_hash).hex() for r in db.rows("auth", "SELECT token_hash FROM "
                                                          "refresh_tokens")}
    return Snapshot(keys, payments, dict(charges), stray, products, reservations, sold,
                    dict(events["payment_succeeded"]), dict(refunds),
                    dict(events["payment_refunded"]), restocks, inbox, hashes, db.reconcile())
