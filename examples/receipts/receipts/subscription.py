"""`@public_event_handler(source, event_type)`: subscribe to a suite's public event from outside.

nameko's own `@event_handler` declares the publisher's exchange and names its queue `evt-...`:
a consumer with its own, narrow broker user may do neither. This one
- declares the exchange passively (it must exist: the suite made it; we never own it),
- names its queue `<this service>.<source>.<event_type>`, inside the user's own namespace,
- hands a failed message back to the queue instead of dropping it (the store is idempotent),
- and, with TRUSTED_PUBLISHER set, ignores a message whose broker-stamped user_id is not that
  publisher's user (RabbitMQ checks user_id against the connection that published it).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from kombu.entity import Exchange, Queue
from nameko.events import EventHandler

log = logging.getLogger(__name__)


class PublicEventHandler(EventHandler):  # type: ignore[misc]
    def __init__(self, source_service: str, event_type: str, **kwargs: Any) -> None:
        super().__init__(source_service, event_type, requeue_on_error=True, **kwargs)

    def setup(self) -> None:
        exchange = Exchange(f"{self.source_service}.events", type="topic",  # type: ignore[no-untyped-call]
                            passive=True)
        name = f"{self.container.service_name}.{self.source_service}.{self.event_type}"
        self.queue = Queue(name, exchange=exchange, routing_key=self.event_type,  # type: ignore[no-untyped-call]
                           durable=True)
        # Skip EventHandler.setup (it would build nameko's queue); register with the consumer.
        super(EventHandler, self).setup()

    def handle_message(self, body: Any, message: Any) -> None:
        trusted = os.environ.get("TRUSTED_PUBLISHER")
        publisher = message.properties.get("user_id")
        if trusted and publisher != trusted:
            log.warning("ignoring %s not published by %s (user_id %r)", self.event_type,
                        trusted, publisher)
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)


public_event_handler = PublicEventHandler.decorator
