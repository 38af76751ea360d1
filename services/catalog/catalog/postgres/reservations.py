"""Reservations on PostgreSQL: the head row (locked while it changes) and its items, with the
one-statement CTEs that create and commit them. Products are locked in ascending id order, as
in products.py."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.domain import Reservation, Status
from catalog.model import reservation_items, reservations

_R = reservations.c
_I = reservation_items.c
# The reservation and its items in one round trip; no items when the id exists already. An id
# that names no product gets no item row (its foreign key would fail the statement with a bare
# 500): reserving it then finds no product, and the caller gets ProductNotFound.
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
_DUE = (select(_R.id, _R.status, _R.expires_at, _R.restocked_at)
        .where(_R.status == "active", _R.expires_at <= bindparam("now"))
        .order_by(_R.expires_at).limit(bindparam("limit")).with_for_update(skip_locked=True))
_ITEMS = select(reservation_items).where(_I.reservation_id.in_(bindparam("ids", expanding=True)))
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
_SET_STATUS = (update(reservations).where(_R.id == bindparam("rid"))
               .values(status=bindparam("new_status"), updated_at=func.now()))
_RESTOCKED = (update(reservations).where(_R.id == bindparam("rid"))
              .values(restocked_at=func.now(), updated_at=func.now()))
# The catalog's business gauges (signals.py): active, expiring soon, overdue and how long.
GAUGES = text(
    "SELECT count(*) AS active, "
    "count(*) FILTER (WHERE expires_at > now() "
    "                 AND expires_at <= now() + make_interval(secs => :soon)) AS expiring, "
    "count(*) FILTER (WHERE expires_at <= now()) AS overdue, "
    "coalesce(extract(epoch FROM now() - min(expires_at) FILTER (WHERE expires_at <= now())), 0)"
    " AS overdue_age FROM reservations WHERE status = 'active'")


def commit_paid(conn: Connection, reservation_id: str, handler: str, message_id: str) -> bool:
    """catalog.ports.Store.commit_paid on an autocommit connection (the statement commits
    alone); an IntegrityError is the claim of an event applied before."""
    try:
        row = conn.execute(_COMMIT_PAID, {"rid": reservation_id, "handler": handler,
                                          "message_id": message_id}).first()
    except IntegrityError:
        return False
    return row is not None


class ReservationRepository:
    """catalog.ports.Reservations on the caller's Session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, reservation: Reservation) -> bool:
        # A concurrent insert of the same id waits here until the first one commits.
        created = self.session.execute(_CREATE, {
            "rid": reservation.id, "status": reservation.status,
            "expires_at": reservation.expires_at, "pids": list(reservation.items),
            "qtys": list(reservation.items.values())}).first()
        return created is not None

    def get(self, reservation_id: str) -> Reservation | None:
        rows = self.session.execute(_GET, {"rid": reservation_id}).all()
        if not rows:
            return None
        items = {row.product_id: row.quantity for row in rows if row.product_id is not None}
        return _reservation(rows[0], items)

    def commit_active(self, reservation_id: str) -> bool:
        return self.session.execute(_COMMIT_ACTIVE, {"rid": reservation_id}).first() is not None

    def set_status(self, reservation_id: str, status: Status) -> None:
        self.session.execute(_SET_STATUS, {"rid": reservation_id, "new_status": status})

    def mark_restocked(self, reservation_id: str) -> None:
        self.session.execute(_RESTOCKED, {"rid": reservation_id})

    def due(self, now: dt.datetime, limit: int) -> list[Reservation]:
        heads = self.session.execute(_DUE, {"now": now, "limit": limit}).all()
        return self._with_items(heads)

    def _with_items(self, heads: Sequence[Any]) -> list[Reservation]:
        if not heads:
            return []
        items: dict[str, dict[uuid.UUID, int]] = {head.id: {} for head in heads}
        for row in self.session.execute(_ITEMS, {"ids": list(items)}):
            items[row.reservation_id][row.product_id] = row.quantity
        return [_reservation(head, items[head.id]) for head in heads]


def _reservation(head: Any, items: dict[uuid.UUID, int]) -> Reservation:
    return Reservation(head.id, head.status, head.expires_at, head.restocked_at is not None,
                       items)
