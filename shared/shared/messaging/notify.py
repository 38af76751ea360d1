"""Waking the relay as soon as an outbox row commits: PostgreSQL LISTEN/NOTIFY.

`record_event` runs `pg_notify(NOTIFY_CHANNEL)` in the caller's transaction; PostgreSQL delivers
it at commit. The relay blocks on this connection's socket between batches, so an event is
picked up within milliseconds, and still polls on a timeout in case a notification is missed
(listener reconnecting, rows written by something that does not notify).
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Callable

import psycopg2
import psycopg2.extensions
from sqlalchemy.engine import make_url

from shared.messaging.outbox import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

# Blocks until `fileno` is readable or `timeout` passes. The default is select(), which eventlet's
# monkey patching makes green; the nameko relay passes eventlet's trampoline explicitly.
WaitReadable = Callable[[int, float], None]


def select_wait(fileno: int, timeout: float) -> None:
    select.select([fileno], [], [], timeout)


class Listener:
    """A dedicated autocommit connection LISTENing on the outbox channel."""

    def __init__(self, database_url: str, wait_readable: WaitReadable = select_wait) -> None:
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._wait_readable = wait_readable
        self._conn: psycopg2.extensions.connection | None = None

    def wait(self, timeout: float) -> bool:
        """Block until a notification arrives (True) or `timeout` passes (False)."""
        try:
            conn = self._connect()
            if not conn.notifies:
                self._wait_readable(conn.fileno(), timeout)
                conn.poll()
            woke = bool(conn.notifies)
            conn.notifies.clear()
            return woke
        except psycopg2.Error as exc:
            # Fall back to polling until the next call reconnects.
            log.warning("outbox listener lost its connection (%s)", type(exc).__name__)
            self.close()
            time.sleep(timeout)
            return False

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.close()

    def _connect(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg2.connect(self._dsn)
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self._conn = conn
        return self._conn
