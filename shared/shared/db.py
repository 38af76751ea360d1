"""SQLAlchemy 2 engine and unit of work: commit on success, roll back on any error."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from shared import wire

# A connection idle this long is pinged when it leaves the pool. A busy connection is not:
# `pool_pre_ping` cost a round trip (and its CPU on both ends) on every checkout, i.e. on every
# transaction. A database restart under load is still survived: the statement that meets a dead
# connection fails, and the disconnect invalidates the whole pool (see _mark_disconnects), so
# the next checkouts reconnect.
IDLE_PING_SECONDS = 5.0
# SQLSTATE class 57P: the server shut down (admin/crash shutdown) or is not accepting yet.
_SHUTDOWN_STATES = ("57P01", "57P02", "57P03")


def make_engine(url: str, pool_size: int = 10) -> Engine:
    # JSON columns go through the suite's own (orjson) rules, in and out: the standard
    # library's encoder costs more CPU than the statements that store the values.
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                           pool_pre_ping=False, pool_recycle=1800,
                           json_serializer=wire.dumps, json_deserializer=wire.loads)
    event.listen(engine.pool, "checkin", _note_checkin)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    event.listen(engine, "handle_error", _mark_disconnects)
    return engine


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    idle_since = record.info.get("checked_in")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return  # new, or just used: the server was there a moment ago
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()  # the ping must not leave a transaction open
    except Exception as exc:
        # The pool drops this connection and checks out (or opens) another, up to 3 times.
        raise DisconnectionError("idle connection failed its ping") from exc


def _mark_disconnects(context: ExceptionContext) -> None:
    """A server shutdown is a disconnect even when the driver words it unusually, so the pool
    is invalidated (every older connection reconnects) instead of failing one by one."""
    code = getattr(context.original_exception, "pgcode", None)
    if code in _SHUTDOWN_STATES:
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = True


class UnitOfWork:
    """One database transaction. Use as `with uow: ...`; it commits unless the block raised."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its `with` block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        session, self._session = self.session, None
        try:
            if exc_type is None:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()


class UnitOfWorkFactory:
    """Hands out fresh units of work bound to one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection on which each statement is its own transaction: for work that is one
        statement anyway, this saves the BEGIN and COMMIT round trips (two of three). The
        driver's autocommit flag is client-side only, and is reset before the connection goes
        back to the pool."""
        with self.engine.connect() as conn:
            driver = conn.connection.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]
            try:
                yield conn
            finally:
                if not driver.closed:  # type: ignore[union-attr]  # (a disconnect closes it)
                    driver.autocommit = False  # type: ignore[union-attr]
