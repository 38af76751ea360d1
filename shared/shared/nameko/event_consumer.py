"""The consume loop behind `@event_handler`: one connection per container, reconnecting forever.

Only this loop's greenthread reads the consuming connection (eventlet forbids two readers on a
socket), so consumers are cancelled here too. Workers ack on it under a lock (acks are writes).
Retry and parked copies go out on a separate connection with publisher confirms.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial
from typing import Any

import eventlet
from amqp import exceptions as amqp_errors
from eventlet.event import Event as GreenEvent
from eventlet.semaphore import Semaphore
from kombu.connection import Connection
from kombu.exceptions import OperationalError
from kombu.messaging import Consumer
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.extensions import ProviderCollector, SharedExtension

from shared.messaging.confirms import ConfirmingPublisher, Outgoing
from shared.messaging.delivery import error_summary
from shared.messaging.topology import declare_topology, handler_queue

log = logging.getLogger(__name__)

HEARTBEAT = 15  # seconds: a silently dead link is noticed within about two of these
MAX_BACKOFF = 5.0


class EventConsumer(SharedExtension, ProviderCollector):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self._stopping = False
        self._cancel = False  # set when the last handler unregisters: no new deliveries
        self._ready, self._cancelled = GreenEvent(), GreenEvent()
        self._write_lock, self._publish_lock = Semaphore(), Semaphore()
        self._publisher: ConfirmingPublisher | None = None
        self._gt: Any = None
        self._failures = 0  # consecutive failed connection attempts: the backoff grows with it

    def setup(self) -> None:
        uri = self.container.config[AMQP_URI_CONFIG_KEY]
        self._publisher = ConfirmingPublisher(uri, on_connect=declare_topology)

    def start(self) -> None:
        if self._gt is None:
            self._gt = self.container.spawn_managed_thread(self._run, identifier="EventConsumer")
            self._gt.link(self._exited)
        self._ready.wait()  # raises what killed the loop before it first consumed

    def unregister_provider(self, provider: Any) -> None:
        self._cancel = True
        if self._gt is not None and not self._gt.dead:
            with eventlet.Timeout(30, False):
                self._cancelled.wait()
        super().unregister_provider(provider)

    def stop(self) -> None:
        self.wait_for_providers()
        self._stopping = True  # every worker has finished (and acked) by now
        if self._gt is not None:
            self._gt.wait()
        if self._publisher is not None:
            self._publisher.close()

    def kill(self) -> None:
        self._stopping = True
        if self._gt is not None:
            self._gt.kill()
        if self._publisher is not None:
            self._publisher.close()

    def ack(self, message: Any) -> None:
        self._settle(message, "ack")

    def requeue(self, message: Any) -> None:
        self._settle(message, "requeue")

    def publish(self, message: Outgoing) -> bool:
        """Publish with a broker confirm; False if it could not be confirmed."""
        assert self._publisher is not None
        with self._publish_lock:
            try:
                return self._publisher.publish([message])[0]
            except Exception as exc:
                log.warning("could not publish to %s (%s)", message.exchange, error_summary(exc))
                return False

    def _settle(self, message: Any, how: str) -> None:
        # A message from a connection that has since died was already requeued by the broker.
        if message.channel is None or not message.channel.connection:
            return
        with self._write_lock:
            try:
                message.ack() if how == "ack" else message.requeue()
            except Exception as exc:
                log.info("could not %s a message (%s)", how, error_summary(exc))

    def _run(self) -> None:
        while not self._stopping:
            try:
                self._consume()
                return
            except Exception as exc:
                if not self._ready.ready() and not _recoverable(exc):
                    raise  # e.g. a queue declared with other arguments: fail loudly at start
                self._failures += 1
                delay = min(MAX_BACKOFF, 0.1 * 2 ** self._failures)
                log.warning("event consumer lost the broker (%s); reconnecting in %.1fs",
                            error_summary(exc), delay)
                if self._cancel:
                    self._signal_cancelled()  # nothing consumes while disconnected
                eventlet.sleep(delay)

    def _consume(self) -> None:
        conn: Any = Connection(self.container.config[AMQP_URI_CONFIG_KEY],  # type: ignore[no-untyped-call]
                               heartbeat=HEARTBEAT, connect_timeout=5)
        try:
            conn.connect()
            declare_topology(conn)
            channel = conn.channel()
            consumers = [] if self._cancel else [self._consumer(channel, p)
                                                 for p in self._providers]
            if not self._ready.ready():
                self._ready.send(None)
            self._failures = 0
            while not self._stopping:
                if self._cancel and consumers:
                    for consumer in consumers:
                        consumer.cancel()
                    consumers = []
                if self._cancel:
                    self._signal_cancelled()
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=1.0)
                with self._write_lock:
                    conn.heartbeat_check()
        finally:
            conn.release()

    def _signal_cancelled(self) -> None:
        if not self._cancelled.ready():
            self._cancelled.send(None)

    def _consumer(self, channel: Any, provider: Any) -> Any:
        consumer: Any = Consumer(  # type: ignore[no-untyped-call]
            channel, queues=[handler_queue(provider.subscription)],
            on_message=partial(self._dispatch, provider), no_ack=False)
        consumer.qos(prefetch_count=provider.prefetch)
        consumer.consume()
        return consumer

    def _dispatch(self, provider: Any, message: Any) -> None:
        try:
            provider.handle_message(message)
        except Exception:
            # Raising here would tear down the connection. Hand the message back instead; the
            # queue's delivery limit dead-letters it if it keeps failing this way.
            log.exception("could not dispatch a message from %s", provider.subscription.queue)
            self.requeue(message)

    def _exited(self, gt: Any) -> None:
        try:
            gt.wait()
        except BaseException as exc:
            if not self._ready.ready():
                self._ready.send_exception(exc)


def _recoverable(exc: BaseException) -> bool:
    return isinstance(exc, (amqp_errors.ConnectionError, amqp_errors.RecoverableConnectionError,
                            OperationalError, OSError, TimeoutError))
