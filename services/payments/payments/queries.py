"""Reads: one payment (owner or admin; anyone else gets 404), a user's payments newest first,
what a user spent, the payments still pending (ops page), and the ledger reconciliation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from payments import ledger, repository, schemas
from payments.core import Actor
from payments.model import payments
from shared.db import UnitOfWork
from shared.errors import Forbidden, NotFound

Uow = Callable[[], UnitOfWork]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def get_payment(uow: Uow, actor: Actor, payment_id: Any) -> dict[str, Any]:
    wanted = _uuid(payment_id)
    row = None
    if wanted is not None:
        with uow() as tx:
            row = repository.get(tx.session, wanted)
    # Someone else's payment looks exactly like a missing one: existence is never revealed.
    if row is None or (row.user_id != actor.user_id and not actor.is_admin):
        raise NotFound("No such payment.")
    return schemas.payment_json(row)


def list_payments(uow: Uow, actor: Actor, query: Any) -> dict[str, Any]:
    page = schemas.parse(schemas.PageIn, query)
    owner = actor.user_id
    if page.user_id is not None and page.user_id != actor.user_id:
        if not actor.is_admin:
            raise Forbidden("Only an admin may list another user's payments.")
        owner = page.user_id
    after = schemas.decode_cursor(page.cursor) if page.cursor else None
    with uow() as tx:
        rows = repository.page(tx.session, owner, page.limit + 1, after)
    more, rows = len(rows) > page.limit, rows[:page.limit]
    last = rows[-1] if rows else None
    return {"items": [schemas.payment_json(row) for row in rows],
            "next_cursor": schemas.encode_cursor(last.created_at, last.id)
            if more and last is not None else None}


def spent(uow: Uow, actor: Actor, user_id: Any = None) -> list[dict[str, Any]]:
    owner = actor.user_id if user_id is None else _uuid(user_id)
    if owner != actor.user_id and not actor.is_admin:
        raise Forbidden("Only an admin may read another user's totals.")
    if owner is None:
        raise NotFound("No such user.")
    with uow() as tx:
        return ledger.spent_by_user(tx.session, owner)


def reconcile(uow: Uow) -> list[dict[str, Any]]:
    with uow() as tx:
        return ledger.reconcile(tx.session)


def pending(uow: Uow, limit: int = 20) -> dict[str, Any]:
    """How many payments are pending, the oldest first: a checkout in progress, or one the
    sweeper has yet to complete (an old one means a stuck saga)."""
    age = func.extract("epoch", func.now() - payments.c.created_at)
    query = (select(payments, age.label("age")).where(payments.c.status == "pending")
             .order_by(payments.c.created_at).limit(max(1, min(int(limit), 100))))
    with uow() as tx:
        count = tx.session.execute(select(func.count()).where(payments.c.status == "pending")
                                   ).scalar_one()
        rows = tx.session.execute(query).all()
    return {"count": int(count),
            "items": [{**schemas.payment_json(row), "age_seconds": round(float(row.age), 1)}
                      for row in rows]}
