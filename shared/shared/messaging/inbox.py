"""Applying an event, or a keyed call, exactly once: the inbox.

Delivery is at least once (a redelivery after a crash, a relay republishing after a lost
confirm, a client retrying a call). The handler's effect and an inbox row `(handler, message_id)`
commit in ONE transaction: the first delivery inserts the row and applies the effect; a later
one finds the row and skips. If the transaction rolls back, neither exists and the next delivery
tries again. A concurrent duplicate waits on the first one's row lock and then sees it.

Event handler (the use case runs inside the caller's unit of work):

    @applies_once("catalog.on_payment_succeeded", inbox)
    def commit_reservation(uow: UnitOfWork, event: PaymentSucceeded) -> None: ...

Keyed RPC (`catalog.reserve_stock(reservation_id, ...)`): `keyed(...)` returns the first call's
stored result to every retry with the same key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, NamedTuple, ParamSpec, Protocol, TypeVar

from sqlalchemy import Executable, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared import wire

P = ParamSpec("P")
R = TypeVar("R")


class HasEventId(Protocol):
    @property
    def event_id(self) -> Any: ...


class HasSession(Protocol):
    @property
    def session(self) -> Session: ...


def claim(session: Session, inbox: Table, handler: str, message_id: object) -> bool:
    """True the first time `handler` sees `message_id` (apply the effect), False after."""
    row = session.execute(_statements(inbox).claim,
                          {"b_handler": handler, "b_message_id": str(message_id)}).first()
    return row is not None


class _Statements(NamedTuple):
    claim: Executable
    stored_result: Executable
    store_result: Executable


@functools.cache
def _statements(inbox: Table) -> _Statements:
    """Built once per table: building and compiling a statement per call cost more CPU than
    its round trip."""
    # b_*: SQLAlchemy keeps column names for the bind parameters it makes itself.
    names: dict[str, Any] = {"handler": bindparam("b_handler"),
                             "message_id": bindparam("b_message_id")}
    mine = (inbox.c.handler == names["handler"], inbox.c.message_id == names["message_id"])
    return _Statements(
        claim=insert(inbox).values(names)
        .on_conflict_do_nothing(index_elements=[inbox.c.handler, inbox.c.message_id])
        .returning(inbox.c.handler),
        stored_result=select(inbox.c.result).where(*mine),
        store_result=update(inbox).where(*mine).values(result=bindparam("b_result")))


def once(session: Session, inbox: Table, handler: str, message_id: object,
         effect: Callable[[], R]) -> R | None:
    """Run `effect()` unless `handler` already applied `message_id`; None when skipped."""
    return effect() if claim(session, inbox, handler, message_id) else None


def applies_once(handler: str, inbox: Table) -> Callable[
        [Callable[Concatenate[HasSession, HasEventId, P], R]],
        Callable[Concatenate[HasSession, HasEventId, P], R | None]]:
    """Decorate a use case `fn(uow, event, ...)` so it applies each `event.event_id` once."""
    def decorate(fn: Callable[Concatenate[HasSession, HasEventId, P], R]
                 ) -> Callable[Concatenate[HasSession, HasEventId, P], R | None]:
        @functools.wraps(fn)
        def wrapper(uow: HasSession, event: HasEventId, /, *args: P.args,
                    **kwargs: P.kwargs) -> R | None:
            if not claim(uow.session, inbox, handler, event.event_id):
                return None
            return fn(uow, event, *args, **kwargs)
        return wrapper
    return decorate


@dataclass(frozen=True)
class Claimed:
    first: bool  # True: do the work, then `store_result`
    result: Any = None  # when not first: what the first call stored (decoded JSON)


def claim_keyed(session: Session, inbox: Table, handler: str, key: str) -> Claimed:
    if claim(session, inbox, handler, key):
        return Claimed(first=True)
    stored = session.execute(_statements(inbox).stored_result,
                             {"b_handler": handler, "b_message_id": key}).scalar_one()
    return Claimed(first=False, result=None if stored is None else wire.loads(stored))


def store_result(session: Session, inbox: Table, handler: str, key: str, result: Any) -> None:
    session.execute(_statements(inbox).store_result,
                    {"b_handler": handler, "b_message_id": key, "b_result": wire.dumps(result)})


def keyed(session: Session, inbox: Table, handler: str, key: str,
          effect: Callable[[], R]) -> R | Any:
    """Run `effect()` once per `key`; every later call gets the first result back.

    The result is stored as JSON, so a replay returns its JSON form (what RPC sends anyway).
    If the first call raises, its transaction rolls back and stores nothing: a retry runs again.
    """
    claimed = claim_keyed(session, inbox, handler, key)
    if not claimed.first:
        return claimed.result
    result = effect()
    store_result(session, inbox, handler, key, result)
    return result
