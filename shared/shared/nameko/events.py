"""`@event_handler(source, event_type)`: event handlers that never lose nor hot-loop an event.

Replaces nameko's `@event_handler`, which drops an event whose handler raises (or loops on it
forever with `requeue_on_error`) and declares its queue only once the subscriber has started.
- The queue is the one in the topology registry (shared.messaging.topology), declared by every
  process at startup, so nothing is published to a queue that does not exist yet.
- Bodies are decoded here, not by kombu, so a malformed message is parked, never crashes.
- An event is applied only if the source service's broker user published it (its verified
  `user_id`, shared.messaging.identity); any other is parked with a warning naming the sender.
- A failing handler is retried later through the retry queue, then parked with its error
  (shared.messaging.delivery); the queue keeps flowing meanwhile.
- The ack comes after the handler: a process killed mid-handler gets the event again, so
  handlers apply their effect once with shared.messaging.inbox.

The handler receives the validated event model (shared.contracts.events).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint

from shared.messaging import delivery as dl
from shared.messaging import topology
from shared.messaging.confirms import Outgoing
from shared.messaging.identity import component_user, connection_user
from shared.nameko.event_consumer import EventConsumer

log = logging.getLogger(__name__)


class EventHandler(Entrypoint):  # type: ignore[misc]
    consumer = EventConsumer()

    def __init__(self, source_service: str, event_type: str, max_retries: int = 5,
                 base_delay: float = 1.0, prefetch: int | None = None, **kwargs: Any) -> None:
        self.source_service = source_service
        self.event_type = event_type
        self.policy = dl.RetryPolicy(max_retries=max_retries, base_delay=base_delay)
        self._prefetch = prefetch
        self.subscription: topology.Subscription | None = None
        super().__init__(**kwargs)

    @property
    def prefetch(self) -> int:
        # Bounded by the worker pool: more would only wait in this process, unacked.
        return self._prefetch or int(self.container.max_workers)

    def setup(self) -> None:
        # Refuses to start a handler whose subscription is not declared up front.
        self.subscription = topology.find(self.source_service, self.event_type,
                                          self.container.service_name, self.method_name)
        self._own_user = connection_user(self.container.config[AMQP_URI_CONFIG_KEY])
        self._owner = component_user(self.source_service)
        self.consumer.register_provider(self)

    def stop(self) -> None:
        self.consumer.unregister_provider(self)

    def handle_message(self, message: Any) -> None:
        """Called by the consumer loop for each delivery; must not raise."""
        assert self.subscription is not None
        delivery = _delivery(message, self._own_user)
        try:
            if delivery.publisher != self._owner:
                raise dl.Malformed(f"published by broker user {delivery.publisher or '(none)'}"
                                   f", not {self._owner}")
            event = dl.decode(self.subscription, delivery)
        except dl.Malformed as exc:
            log.warning("parking a message from %s: %s", self.subscription.queue, exc)
            self.container.spawn_managed_thread(partial(
                self._settle, message, dl.parked_copy(self.subscription, delivery,
                                                      f"Malformed: {exc}"[:500], attempts=0)))
            return
        try:
            self.container.spawn_worker(self, (event,), {}, context_data=delivery.context,
                                        handle_result=partial(self.handle_result, message,
                                                              delivery))
        except ContainerBeingKilled:
            self.consumer.requeue(message)

    def handle_result(self, message: Any, delivery: dl.Delivery, worker_ctx: Any,
                      result: Any = None, exc_info: Any = None) -> tuple[Any, Any]:
        assert self.subscription is not None
        if exc_info is None:
            self.consumer.ack(message)
            return result, exc_info
        error = dl.error_summary(exc_info[1])
        if delivery.failures < self.policy.max_retries:
            copy = dl.retry_copy(self.subscription, delivery, error, self.policy)
        else:
            log.error("parking an event from %s after %d attempts: %s",
                      self.subscription.queue, delivery.failures + 1, error)
            copy = dl.parked_copy(self.subscription, delivery, error, delivery.failures + 1)
        self._settle(message, copy)
        return result, exc_info

    def _settle(self, message: Any, copy: Outgoing) -> None:
        # The copy must be confirmed before the original is acked: a crash in between
        # duplicates the event (the inbox absorbs it) rather than losing it.
        if self.consumer.publish(copy):
            self.consumer.ack(message)
        else:
            # The broker is unreachable: hand the message back; the queue's delivery limit
            # parks it if this keeps happening.
            self.consumer.requeue(message)


def _delivery(message: Any, own_user: str) -> dl.Delivery:
    body = message.body
    if isinstance(body, str):  # py-amqp decodes bodies that declare a content_encoding
        body = body.encode(message.content_encoding or "utf-8", errors="surrogateescape")
    return dl.Delivery.received(bytes(body or b""), message.content_type,
                                dict(message.properties or {}),
                                dict(message.headers or {}), own_user)


event_handler = EventHandler.decorator
