"""Every service process applies auth's `user_sessions_revoked` events to its token checks.

A SharedExtension (one per container, used by `Principal`) with its own exclusive, auto-delete
queue on `auth.events`: every process sees every revocation, none is left behind when the
process goes. It reconnects forever with a short backoff; only auth's broker user counts as the
sender (shared.messaging.identity).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

import eventlet
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.messaging import Consumer
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.extensions import SharedExtension

from shared.messaging.delivery import error_summary
from shared.messaging.identity import sender
from shared.revocations import EVENT_TYPE, EXCHANGE, Revocations, apply_event

log = logging.getLogger(__name__)

HEARTBEAT = 15
MAX_BACKOFF = 5.0


class RevocationFeed(SharedExtension):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.revocations = Revocations()
        self._stopping = False
        self._gt: Any = None

    def setup(self) -> None:
        name = f"revocations.{self.container.service_name}-{uuid.uuid4()}"
        self._queue = Queue(name, Exchange(EXCHANGE, type="topic", durable=True),  # type: ignore[no-untyped-call]
                            routing_key=EVENT_TYPE, exclusive=True, auto_delete=True)

    def start(self) -> None:
        if self._gt is None:
            self._gt = self.container.spawn_managed_thread(self._run,
                                                           identifier="RevocationFeed")

    def stop(self) -> None:
        self._stopping = True
        if self._gt is not None:
            with eventlet.Timeout(2, False):
                self._gt.wait()

    def kill(self) -> None:
        self._stopping = True
        if self._gt is not None:
            self._gt.kill()

    def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                self._consume()
            except Exception as exc:
                failures += 1
                log.warning("revocation feed lost the broker (%s); reconnecting",
                            error_summary(exc))
                eventlet.sleep(min(MAX_BACKOFF, 0.1 * 2 ** failures))

    def _consume(self) -> None:
        conn: Any = Connection(self.container.config[AMQP_URI_CONFIG_KEY],  # type: ignore[no-untyped-call]
                               heartbeat=HEARTBEAT, connect_timeout=5)
        try:
            conn.connect()
            consumer: Any = Consumer(conn.channel(), queues=[self._queue],  # type: ignore[no-untyped-call]
                                     on_message=self._on_message, no_ack=True)
            consumer.consume()
            while not self._stopping:
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=1.0)
                conn.heartbeat_check()
        finally:
            conn.release()

    def _on_message(self, message: Any) -> None:
        apply_event(self.revocations, sender(message.properties), message.body)
