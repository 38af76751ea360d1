"""The reads: one payment (owner or admin; anyone else gets 404), a user's payments newest
first, what a user spent, the payments still pending, and the ledger reconciliation."""

from __future__ import annotations

import uuid
from typing import Any

from payments import errors, schemas, views
from payments.domain import Actor
from payments.ports import Store
from shared.errors import Forbidden, NotFound


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def get_payment(store: Store, actor: Actor, payment_id: Any) -> dict[str, Any]:
    wanted = _uuid(payment_id)
    payment = None
    if wanted is not None:
        with store.transaction() as tx:
            payment = tx.payments.get(wanted)
    # Someone else's payment looks exactly like a missing one: existence is never revealed.
    if payment is None or (payment.user_id != actor.user_id and not actor.is_admin):
        raise errors.no_payment()
    return views.payment(payment)


def list_payments(store: Store, actor: Actor, query: Any) -> dict[str, Any]:
    page = schemas.parse(schemas.PageIn, query)
    owner = actor.user_id
    if page.user_id is not None and page.user_id != actor.user_id:
        if not actor.is_admin:
            raise Forbidden("Only an admin may list another user's payments.")
        owner = page.user_id
    after = schemas.decode_cursor(page.cursor) if page.cursor else None
    with store.transaction() as tx:
        rows = tx.payments.page(owner, page.limit + 1, after)
    return views.page(rows, page.limit)


def spent(store: Store, actor: Actor, user_id: Any = None) -> list[dict[str, Any]]:
    """Captured minus refunded, one entry per currency."""
    owner = actor.user_id if user_id is None else _uuid(user_id)
    if owner != actor.user_id and not actor.is_admin:
        raise Forbidden("Only an admin may read another user's totals.")
    if owner is None:
        raise NotFound("No such user.")
    with store.transaction() as tx:
        return tx.ledger.spent_by_user(owner)


def reconcile(store: Store) -> list[dict[str, Any]]:
    """Every inconsistency between payments, refunds and the ledger; empty when all is well."""
    with store.transaction() as tx:
        return tx.ledger.reconcile()


def pending(store: Store, limit: int = 20) -> dict[str, Any]:
    """How many payments are pending, the oldest first: a checkout in progress, or one the
    sweeper has yet to complete (an old one means a stuck saga)."""
    with store.transaction() as tx:
        count, rows = tx.payments.pending(max(1, min(int(limit), 100)))
    return views.pending(count, rows)
