"""Reservations on PostgreSQL: the head row (locked while it changes) and its items.

Products are locked in ascending id order, as in stock.py, so two reservations never wait on
each other in a cycle.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.model import reservation_items, reservations
from catalog.ports import ReservationRecord

_R = reservations.c
_I = reservation_items.c
_HEAD = select(_R.id, _R.status, _R.expires_at, _R.restocked_at)
# Built once: a statement made per call costs its construction and cache-key walk every time.
# The reservation and its items in one round trip; no items when the id exists already. An id
# that names no product gets no item row (its foreign key would fail the whole statement with a
# bare 500): reserving it then finds no product, and the caller gets NotFound.
_CREATE = text("""
    WITH r AS (INSERT INTO reservations (id, status, expires_at)
               VALUES (:rid, :status, :expires_at) ON CONFLICT (id) DO NOTHING RETURNING id),
         i AS (INSERT INTO reservation_items (reservation_id, product_id, quantity)
               SELECT r.id, v.product_id, v.quantity
               FROM r, unnest(CAST(:pids AS uuid[]), CAST(:qtys AS int[]))
                       AS v(product_id, quantity)
               JOIN products p ON p.id = v.product_id)
    SELECT id FROM r""")
# The head (locked) and its items in one round trip; only the reservation row is locked.
_GET = (select(_R.id, _R.status, _R.expires_at, _R.restocked_at, _I.product_id, _I.quantity)
        .select_from(reservations.outerjoin(reservation_items))
        .where(_R.id == bindparam("rid")).with_for_update(of=reservations))
# Committing an active reservation in one round trip: its units leave the warehouse (each with
# its audit row) and it is marked committed. The products are locked in id order first (the
# MATERIALIZED CTE runs before the UPDATE that joins it). Nothing happens unless it was active.
_COMMIT = """
    WITH r AS (UPDATE reservations SET status = 'committed', updated_at = now()
               WHERE id = :rid AND status = 'active' RETURNING id),
         {claim}
         i AS MATERIALIZED (SELECT ri.product_id, ri.quantity FROM reservation_items ri
                            JOIN r ON ri.reservation_id = r.id),
         l AS MATERIALIZED (SELECT p.id FROM products p JOIN i ON p.id = i.product_id
                            ORDER BY p.id FOR UPDATE OF p),
         s AS (UPDATE products p SET on_hand = p.on_hand - i.quantity,
                                     reserved = p.reserved - i.quantity, updated_at = now()
               FROM i WHERE p.id = i.product_id AND p.id IN (SELECT id FROM l)
               RETURNING p.id, i.quantity),
         m AS (INSERT INTO stock_movements (product_id, delta, reason)
               SELECT s.id, -s.quantity, 'sold: reservation ' || :rid FROM s)
    SELECT id FROM r"""
_COMMIT_ACTIVE = text(_COMMIT.format(claim=""))
# The same with the event's inbox claim: a duplicate's claim fails the whole statement.
_COMMIT_PAID = text(_COMMIT.format(claim="""c AS (INSERT INTO inbox (handler, message_id)
               SELECT :handler, :message_id FROM r),"""))


def commit_paid(conn: Connection, reservation_id: str, handler: str, message_id: str) -> bool:
    """Commit an active reservation and claim the event that paid for it, in one statement
    (on an autocommit connection: it commits alone). False, with nothing done, when it was
    not active or the event was claimed before: the caller takes the transactional path."""
    try:
        row = conn.execute(_COMMIT_PAID, {"rid": reservation_id, "handler": handler,
                                          "message_id": message_id}).first()
    except IntegrityError:
        return False
    return row is not None


_SET_STATUS = (update(reservations).where(_R.id == bindparam("rid"))
               .values(status=bindparam("new_status"), updated_at=func.now()))


class ReservationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, reservation_id: str, expires_at: dt.datetime, status: str = "active",
               items: dict[uuid.UUID, int] | None = None) -> bool:
        # A concurrent insert of the same id waits here until the first one commits.
        items = items or {}
        created = self.session.execute(_CREATE, {
            "rid": reservation_id, "status": status, "expires_at": expires_at,
            "pids": list(items), "qtys": list(items.values())}).first()
        return created is not None

    def get(self, reservation_id: str) -> ReservationRecord | None:
        rows = self.session.execute(_GET, {"rid": reservation_id}).all()
        if not rows:
            return None
        head = rows[0]
        items = {row.product_id: row.quantity for row in rows if row.product_id is not None}
        return ReservationRecord(head.id, head.status, head.expires_at,
                                 head.restocked_at is not None, items)

    def commit_active(self, reservation_id: str) -> bool:
        """Sell an active reservation's units and mark it committed; False (and nothing done)
        when it is not active."""
        return self.session.execute(_COMMIT_ACTIVE, {"rid": reservation_id}).first() is not None

    def set_status(self, reservation_id: str, status: str) -> None:
        self.session.execute(_SET_STATUS, {"rid": reservation_id, "new_status": status})

    def mark_restocked(self, reservation_id: str) -> None:
        self.session.execute(update(reservations).where(_R.id == reservation_id)
                             .values(restocked_at=func.now(), updated_at=func.now()))

    def due(self, now: dt.datetime, limit: int) -> list[ReservationRecord]:
        heads = self.session.execute(
            _HEAD.where(_R.status == "active", _R.expires_at <= now)
            .order_by(_R.expires_at).limit(limit).with_for_update(skip_locked=True)).all()
        return self._records(heads)

    def _records(self, heads: Sequence[Any]) -> list[ReservationRecord]:
        if not heads:
            return []
        items: dict[str, dict[uuid.UUID, int]] = {head.id: {} for head in heads}
        rows = self.session.execute(
            select(reservation_items).where(reservation_items.c.reservation_id.in_(list(items))))
        for row in rows:
            items[row.reservation_id][row.product_id] = row.quantity
        return [ReservationRecord(head.id, head.status, head.expires_at,
                                  head.restocked_at is not None, items[head.id])
                for head in heads]
