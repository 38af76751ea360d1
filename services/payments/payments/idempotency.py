"""Stripe-style idempotency keys, stored beside the data they protect.

A key is scoped per user. The first request with a key inserts the row (`in_flight`, leased to
that request; the primary key (user_id, key) makes the insert the lock, so any number of
replicas agree). Then:
- same key, different request (fingerprint)         -> MISMATCH (422, not stored)
- same key, first outcome stored                    -> REPLAY (status code + body)
- same key, first request still holds the lease     -> IN_FLIGHT (409, not stored)
- same key, lease expired (that request died/failed) -> TAKEOVER: carry on with the same
  `resource_id`, so the payment/refund it started is resumed, never started twice.
Only completed outcomes are stored; validation failures `forget` the key (a corrected retry
proceeds). The row chosen at first sight also names the resource (`resource_id`) the request
creates: it is the saga's recovery point, and the sweeper completes abandoned ones. The
decision itself is the pure state machine of key_states.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    Connection,
    Interval,
    and_,
    bindparam,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from payments.key_states import Claim, Decision, KeyRecord, decide, fingerprint
from payments.model import idempotency_keys as keys


def _record(row: Any) -> KeyRecord:
    return KeyRecord(user_id=row.user_id, key=row.key, kind=row.kind, fingerprint=row.fingerprint,
                     state=row.state, resource_id=row.resource_id, request=row.request,
                     status_code=row.status_code, body=row.body)


# Hot statements built once, their values bound per call: building them per call (values(),
# coercion, cache key) cost more CPU than PostgreSQL spends running them.
_LEASE_FOR = bindparam("lease_for", type_=Interval)
_CLAIM = (insert(keys).values(locked_until=func.now() + _LEASE_FOR)
          .on_conflict_do_nothing().returning(*keys.c))
_COMPLETE = (update(keys).where(keys.c.resource_id == bindparam("rid"),
                                keys.c.state == "in_flight")
             .values(state="completed", completed_at=func.now()))


def _lease(seconds: float) -> Any:
    return func.now() + dt.timedelta(seconds=seconds)


def _pk(user_id: uuid.UUID, key: str) -> Any:
    return and_(keys.c.user_id == user_id, keys.c.key == key)


def insert_new(db: Session | Connection, user_id: uuid.UUID, key: str, kind: str,
               request: dict[str, Any], lease_seconds: float,
               wanted: str | None = None) -> KeyRecord | None:
    """The record of a key this call inserted (leased to it), or None if the key exists."""
    row = db.execute(_CLAIM, {
        "user_id": user_id, "key": key, "kind": kind,
        "fingerprint": wanted or fingerprint(kind, request), "request": request,
        "state": "in_flight", "resource_id": uuid.uuid4(),
        "lease_for": dt.timedelta(seconds=lease_seconds)}).one_or_none()
    return None if row is None else _record(row)


def claim(session: Session, user_id: uuid.UUID, key: str, kind: str, request: dict[str, Any],
          lease_seconds: float) -> Claim:
    """Insert the key or decide what to do with the existing one (see the module docstring)."""
    wanted = fingerprint(kind, request)
    for _ in range(3):  # a concurrent `forget` may delete the row between insert and select
        new = insert_new(session, user_id, key, kind, request, lease_seconds, wanted)
        if new is not None:
            return Claim(Decision.NEW, new)
        found = session.execute(
            select(keys, (keys.c.locked_until <= func.now()).label("expired"))
            .where(_pk(user_id, key)).with_for_update()).one_or_none()
        if found is None:
            continue
        decision = decide(_record(found), wanted, bool(found.expired))
        if decision is Decision.TAKEOVER:
            session.execute(update(keys).where(_pk(user_id, key))
                            .values(locked_until=_lease(lease_seconds)))
        return Claim(decision, _record(found))
    raise RuntimeError("idempotency key kept disappearing")


def complete(session: Session, resource_id: uuid.UUID, status_code: int, body: Any) -> None:
    """Store the first completed outcome, in the transaction that made it happen."""
    session.execute(_COMPLETE, {"rid": resource_id, "status_code": status_code,
                                "body": body})


def forget(session: Session, resource_id: uuid.UUID) -> None:
    """Nothing happened (validation failed, or nothing had been done yet): a retry proceeds."""
    session.execute(delete(keys).where(keys.c.resource_id == resource_id,
                                       keys.c.state == "in_flight"))


def release(session: Session, resource_id: uuid.UUID) -> None:
    """The request failed midway: let a retry (or the sweeper) take over at once."""
    session.execute(update(keys).where(keys.c.resource_id == resource_id,
                                       keys.c.state == "in_flight")
                    .values(locked_until=func.now()))


def claim_abandoned(session: Session, limit: int, lease_seconds: float) -> list[KeyRecord]:
    """Lease in-flight keys whose request died; SKIP LOCKED lets several replicas sweep."""
    stale = (select(keys.c.user_id, keys.c.key)
             .where(keys.c.state == "in_flight", keys.c.locked_until < func.now())
             .order_by(keys.c.locked_until).limit(limit).with_for_update(skip_locked=True))
    rows = session.execute(
        update(keys).where(keys.c.state == "in_flight",
                           tuple_(keys.c.user_id, keys.c.key).in_(stale))
        .values(locked_until=_lease(lease_seconds)).returning(*keys.c)).all()
    return [_record(row) for row in rows]


def prune(session: Session, retention_hours: float) -> int:
    """Drop outcomes older than the retention period (at least 24 h after they completed)."""
    cutoff = func.now() - dt.timedelta(hours=retention_hours)
    result = session.execute(delete(keys).where(keys.c.state == "completed",
                                                keys.c.completed_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
