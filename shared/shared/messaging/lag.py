"""How far the outbox relay is behind: for the ops CLI (`status`) and metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table, func, select

from shared.messaging.tables import OUTBOX


@dataclass(frozen=True)
class OutboxLag:
    pending: int  # committed events not yet confirmed by the broker
    oldest_age_seconds: float  # age of the oldest of them; 0.0 when none is pending


def outbox_lag(bind: Engine | Connection, outbox: Table = OUTBOX) -> OutboxLag:
    """Read one service's outbox lag (`bind`: an engine or connection on its database)."""
    query = select(func.count(), func.extract("epoch", func.now() - func.min(outbox.c.created_at))
                   ).where(outbox.c.published_at.is_(None))
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            pending, age = conn.execute(query).one()
    else:
        pending, age = bind.execute(query).one()
    return OutboxLag(pending=int(pending), oldest_age_seconds=max(0.0, float(age or 0.0)))
