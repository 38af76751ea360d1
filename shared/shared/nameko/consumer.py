"""A QueueConsumer that keeps its connection open until in-flight messages are acked.

nameko 2.14's QueueConsumer stops its consume loop, and closes the connection, as soon as the
last entrypoint has unregistered, i.e. at the very start of `container.stop()`. Workers still
running then cannot ack: the broker requeues their messages and the next instance runs them a
second time. This subclass cancels the consumers just the same (no new deliveries) but keeps
draining the connection until every delivered message has been acked or requeued, so a graceful
stop finishes in-flight work exactly once. `StopDeadline` bounds the wait (shared.nameko.shutdown).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import eventlet
from nameko.messaging import QueueConsumer

log = logging.getLogger(__name__)

# kombu's default reconnect back-off grows by 2 s per attempt up to 30 s between attempts, so a
# service came back up to 30 s after the broker did; retry at most this far apart instead.
RECONNECT_INTERVAL_MAX = 2.0
# How often the consume loop wakes up when idle to notice a stop or a kill (kombu's default is
# 1 s, which nameko's stop and kill each wait out once per consumer: seconds off the 10 s budget).
POLL_INTERVAL = 0.25
# A message that could not be dispatched goes back to the queue after this long, not at once.
REQUEUE_DELAY = 1.0


class DrainingQueueConsumer(QueueConsumer):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        # Messages handed to a provider and not yet acked or requeued, by identity: delivery
        # tags restart at 1 on every new channel. Holding the message keeps its id unique.
        self._in_flight: dict[int, Any] = {}

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("safety_interval", POLL_INTERVAL)
        super().run(_tokens, **kwargs)

    @contextmanager
    def establish_connection(self) -> Iterator[Any]:
        # kombu's ConsumerMixin.establish_connection, with a capped back-off.
        with self.create_connection() as conn:
            conn.ensure_connection(self.on_connection_error, self.connect_max_retries,
                                   interval_start=1.0, interval_step=1.0,
                                   interval_max=RECONNECT_INTERVAL_MAX)
            yield conn

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        # Same as nameko's, but every delivery goes through `on_raw_message` first, undecoded.
        for provider in self._providers:
            consumer = consumer_cls(queues=[provider.queue], accept=self.accept,
                                    on_message=partial(self._on_raw_message, provider))
            consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()

    def _on_raw_message(self, provider: Any, message: Any) -> None:
        self._in_flight[id(message)] = message
        try:
            self.on_raw_message(provider, message)
        except Exception:
            # Runs in the consume loop: an exception here would kill the container. Requeued
            # later, not at once, so that a message that always fails is not a hot loop.
            log.exception("could not dispatch a message from %s; requeueing it",
                          provider.queue.name)
            eventlet.spawn_after(REQUEUE_DELAY, self.requeue_message, message)

    def on_raw_message(self, provider: Any, message: Any) -> None:
        """Decode as kombu would and dispatch; subclasses validate first."""
        try:
            body = message.decode()
        except Exception:
            # What kombu does for consumers without a decode-error handler: log and drop.
            log.error("dropping an undecodable message from %s (content_type %r)",
                      provider.queue.name, message.content_type)
            self.ack_message(message)
            return
        self.handle_message(provider, body, message)

    def ack_message(self, message: Any) -> None:
        self._in_flight.pop(id(message), None)
        super().ack_message(message)

    def requeue_message(self, message: Any) -> None:
        self._in_flight.pop(id(message), None)
        super().requeue_message(message)

    def on_iteration(self) -> None:
        self._cancel_consumers_if_requested()
        if not self._consumers and not self._in_flight:
            log.debug("no consumers and nothing in flight: stopping %s", self)
            self.should_stop = True
