"""Keeps this gateway process's read cache honest: catalog events invalidate it.

Each gateway process binds its own exclusive, auto-delete queue on `catalog.events` (so every
gateway sees every event, and the queue disappears with the process). The connection is kept up
by gateway.amqp.Link, as gateway.rpc's is: on loss the cache is switched off at once (reads go
upstream) until the subscription is back, then emptied, because events may have been missed
meanwhile.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

from pika.channel import Channel
from pika.exchange_type import ExchangeType

from gateway.amqp import RECONNECT_DELAY, Link
from gateway.cache import ReadCache
from shared import wire

__all__ = ["EXCHANGE", "LISTING_EVENTS", "PRODUCT_EVENTS", "RECONNECT_DELAY",
           "CacheInvalidator"]

log = logging.getLogger(__name__)

EXCHANGE = "catalog.events"
PRODUCT_EVENTS = ("product_updated", "product_deleted", "stock_changed")
LISTING_EVENTS = ("product_created",)  # a new product shows up on first pages


class CacheInvalidator:
    def __init__(self, amqp_uri: str, cache: ReadCache) -> None:
        self.amqp_uri = amqp_uri
        self.cache = cache
        self.queue_name = f"gateway-cache-{uuid.uuid4()}"
        self.cache.live = False
        self._link = Link(amqp_uri, self._subscribe, self._on_down, "catalog events")

    @property
    def subscribed(self) -> bool:
        return self._link.up

    async def start(self, wait: float = 5.0) -> None:
        if not await self._link.start(wait):
            log.warning("catalog events unreachable; the read cache stays off until they are")

    async def stop(self) -> None:
        await self._link.stop()

    def _on_down(self) -> None:
        self.cache.live = False

    async def _subscribe(self, channel: Channel) -> None:
        # Same declaration as shared.messaging.topology (durable topic): idempotent.
        await self._link.complete(lambda done: channel.exchange_declare(
            EXCHANGE, exchange_type=ExchangeType.topic, durable=True, callback=done))
        await self._link.complete(lambda done: channel.queue_declare(
            self.queue_name, exclusive=True, auto_delete=True, callback=done))
        for event_type in PRODUCT_EVENTS + LISTING_EVENTS:
            await self._link.complete(functools.partial(self._bind, channel, event_type))
        await self._link.complete(lambda done: channel.basic_consume(
            self.queue_name, self._on_event, auto_ack=True, callback=done))
        self.cache.clear()
        self.cache.live = True
        log.info("read cache subscribed to catalog events")

    def _bind(self, channel: Channel, routing_key: str, done: Callable[..., None]) -> None:
        channel.queue_bind(self.queue_name, EXCHANGE, routing_key=routing_key, callback=done)

    def _on_event(self, _channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        try:
            payload = wire.loads(body)
            product_id = payload.get("product_id") if isinstance(payload, dict) else None
        except ValueError:
            product_id = None
        if method.routing_key in PRODUCT_EVENTS and isinstance(product_id, str):
            self.cache.invalidate_product(product_id)
        elif method.routing_key in PRODUCT_EVENTS:
            self.cache.clear()  # can't tell which product: drop everything
        else:
            self.cache.invalidate_listings()
