"""Applying an event once: the inbox.

Delivery is at least once (a redelivery after a crash, a relay republishing after a lost
confirm). The handler's effect and an inbox row `(handler, message_id)` commit in ONE
transaction: the first delivery inserts the row and applies the effect; a later one finds the
row and skips. If the transaction rolls back, neither exists and the next delivery tries again.
A concurrent duplicate waits on the first one's row lock and then sees it.

A service reaches `claim` through an inbox port of its store transaction (docs/messaging.md,
"Applying an event once"), or claims inside the one statement that applies the event.
"""

from __future__ import annotations

import functools

from sqlalchemy import Executable, Table, bindparam
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session


def claim(session: Session, inbox: Table, handler: str, message_id: object) -> bool:
    """True the first time `handler` sees `message_id` (apply the effect), False after."""
    row = session.execute(_claim_statement(inbox),
                          {"b_handler": handler, "b_message_id": str(message_id)}).first()
    return row is not None


@functools.cache
def _claim_statement(inbox: Table) -> Executable:
    # Built once per table: it runs on every event a service handles.
    # b_*: SQLAlchemy keeps column names for the bind parameters it makes itself.
    return (insert(inbox).values(handler=bindparam("b_handler"),
                                 message_id=bindparam("b_message_id"))
            .on_conflict_do_nothing(index_elements=[inbox.c.handler, inbox.c.message_id])
            .returning(inbox.c.handler))
