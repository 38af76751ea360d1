"""The transactional outbox relay, without nameko: claim committed rows, publish, mark.

A batch is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` in id order, so several relays (one
per service instance) share the work without a cursor, and a row that committed after a higher
id (ids are taken at insert, not at commit) is still picked up. The rows are published with
publisher confirms and marked in the same transaction. A crash between the broker's confirm and
the commit publishes them again with the same event_id, which subscribers' inboxes absorb.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, Select, Table, Update, bindparam, delete, func, select, update

from shared import wire
from shared.messaging.confirms import ConfirmingPublisher, Outgoing
from shared.messaging.delivery import error_summary
from shared.messaging.notify import Listener
from shared.messaging.tables import INBOX, OUTBOX

log = logging.getLogger(__name__)


class RelaySettings(BaseSettings):
    """Read from the environment when the relay starts (OUTBOX_* variables)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    batch_size: int = Field(default=200, ge=1, validation_alias="OUTBOX_BATCH_SIZE")
    # Fallback when a NOTIFY is missed (listener reconnecting).
    poll_interval: float = Field(default=1.0, gt=0, validation_alias="OUTBOX_POLL_INTERVAL")
    retention: dt.timedelta = Field(default=dt.timedelta(days=7),
                                    validation_alias="OUTBOX_RETENTION")  # published rows
    # Inbox rows only need to outlive any plausible redelivery or client retry.
    inbox_retention: dt.timedelta = Field(default=dt.timedelta(days=30),
                                          validation_alias="INBOX_RETENTION")
    prune_every: float = Field(default=600.0, gt=0, validation_alias="OUTBOX_PRUNE_EVERY")
    # While events stream in (the previous pass published several and the next wake-up comes
    # within this long of it) the relay waits this long, so that their commits go out as one
    # batch (one claim, one confirm round, one mark) instead of a pass each. Otherwise it
    # publishes at once: a lone event, or events one after the other, are not delayed.
    linger: float = Field(default=0.03, ge=0, le=1, validation_alias="OUTBOX_LINGER")
    max_backoff: float = 5.0


class Relay:
    def __init__(self, engine: Engine, publisher: ConfirmingPublisher,
                 settings: RelaySettings | None = None, outbox: Table = OUTBOX,
                 inbox: Table = INBOX) -> None:
        self._engine = engine
        self._publisher = publisher
        self.settings = settings or RelaySettings()
        self._outbox, self._inbox = outbox, inbox
        self._next_prune = 0.0

    def publish_pending(self) -> int:
        """Publish every committed row; returns how many were confirmed."""
        total = 0
        while True:
            claimed, published = self.publish_batch()
            total += published
            # Stop on a short batch, or when the broker refused some (try again later, not now).
            if claimed < self.settings.batch_size or published < claimed:
                return total

    def publish_batch(self) -> tuple[int, int]:
        """Claim, publish and mark one batch: (rows claimed, rows confirmed and marked)."""
        with self._engine.begin() as conn:
            claim, mark = _statements(self._outbox)
            rows = conn.execute(claim, {"batch": self.settings.batch_size}).all()
            if not rows:
                return 0, 0
            confirmed = self._publisher.publish([_outgoing(row) for row in rows])
            done = [row.id for row, ok in zip(rows, confirmed, strict=True) if ok]
            if done:
                conn.execute(mark, {"ids": done})
        return len(rows), len(done)

    def prune(self) -> tuple[int, int]:
        """Delete old published outbox rows and old inbox rows: (outbox, inbox) deleted."""
        o, i = self._outbox, self._inbox
        now = wire.utcnow()
        with self._engine.begin() as conn:
            outbox = conn.execute(delete(o).where(
                o.c.published_at < now - self.settings.retention)).rowcount
            inbox = conn.execute(delete(i).where(
                i.c.processed_at < now - self.settings.inbox_retention)).rowcount
        return outbox, inbox

    def run(self, listener: Listener, stopping: Callable[[], bool]) -> None:
        """Publish until `stopping()`; survives broker and database outages by backing off.

        The pass that sees `stopping()` still publishes, so rows committed just before a
        graceful stop go out now rather than at the next start.
        """
        failures, published = 0, 0
        while True:
            last_pass = stopping()
            try:
                self._publisher.connect()  # declares the whole topology first
                published = self.publish_pending()
                self._maybe_prune()
                failures = 0
            except Exception as exc:
                if last_pass:
                    return
                failures += 1
                delay = min(self.settings.max_backoff, 0.1 * 2 ** failures)
                log.warning("outbox relay failed (%s); retrying in %.1fs",
                            error_summary(exc), delay)
                time.sleep(delay)
                continue
            if last_pass:
                return
            passed_at = time.monotonic()
            if listener.wait(self.settings.poll_interval) and self._streaming(published,
                                                                               passed_at):
                time.sleep(self.settings.linger)

    def _streaming(self, published: int, passed_at: float) -> bool:
        """Commits are arriving faster than passes go out: the last pass found several, and
        the next one was woken soon after it."""
        return published > 1 and time.monotonic() - passed_at < self.settings.linger

    def _maybe_prune(self) -> None:
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + self.settings.prune_every
            outbox, inbox = self.prune()
            if outbox or inbox:
                log.info("pruned %d outbox and %d inbox rows", outbox, inbox)


@functools.cache
def _statements(o: Table) -> tuple[Select[Any], Update]:
    """Claim a batch, mark it published: built once per table (built per batch, their
    construction and cache keys cost more CPU than PostgreSQL spends running them)."""
    claim = (select(o.c.id, o.c.event_id, o.c.exchange, o.c.event_type, o.c.payload,
                    o.c.headers)
             .where(o.c.published_at.is_(None)).order_by(o.c.id)
             .limit(bindparam("batch")).with_for_update(skip_locked=True))
    mark = (update(o).where(o.c.id.in_(bindparam("ids", expanding=True)))
            .values(published_at=func.now(), attempts=o.c.attempts + 1))
    return claim, mark


def _outgoing(row: Any) -> Outgoing:
    headers: dict[str, Any] = dict(row.headers or {})
    return Outgoing(exchange=row.exchange, routing_key=row.event_type,
                    body=wire.dumpb(row.payload), message_id=str(row.event_id), headers=headers)
