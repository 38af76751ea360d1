"""Keeps this gateway process's read cache honest: catalog events invalidate it.

Each gateway process binds its own exclusive, auto-delete queue on `catalog.events` (so every
gateway sees every event, and the queue disappears with the process). The connection is kept up
like gateway.rpc's: on loss the cache is switched off (reads go upstream) until the subscription
is back, then emptied, because events may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from gateway.cache import ReadCache
from shared import wire

log = logging.getLogger(__name__)

EXCHANGE = "catalog.events"
PRODUCT_EVENTS = ("product_updated", "product_deleted", "stock_changed")
LISTING_EVENTS = ("product_created",)  # a new product shows up on first pages
RECONNECT_DELAY = 0.5
_CONNECTION_ERRORS = (aio_pika.exceptions.AMQPError, ConnectionError, OSError, RuntimeError)


class CacheInvalidator:
    def __init__(self, amqp_uri: str, cache: ReadCache) -> None:
        self.amqp_uri = amqp_uri
        self.cache = cache
        self.queue_name = f"gateway-cache-{uuid.uuid4()}"
        self.cache.live = False
        self._connection: AbstractConnection | None = None
        self._subscribed = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    async def start(self, wait: float = 5.0) -> None:
        self._supervisor = asyncio.create_task(self._stay_subscribed())
        try:
            await asyncio.wait_for(self._subscribed.wait(), wait)
        except TimeoutError:
            log.warning("catalog events unreachable; the read cache stays off until they are")

    async def stop(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self._connection is not None:
            await self._connection.close()

    async def _stay_subscribed(self) -> None:
        while not self._closing:
            try:
                self._connection = await aio_pika.connect(self.amqp_uri, timeout=3)
                await self._subscribe(self._connection)
                await self._until_closed(self._connection)
            except asyncio.CancelledError:
                raise
            except _CONNECTION_ERRORS as exc:
                log.warning("catalog events subscription failed: %s", type(exc).__name__)
            self.cache.live = False
            self._subscribed.clear()
            await asyncio.sleep(RECONNECT_DELAY)

    @staticmethod
    async def _until_closed(connection: AbstractConnection) -> None:
        closed = asyncio.Event()
        connection.close_callbacks.add(lambda *_: closed.set())
        await closed.wait()

    async def _subscribe(self, connection: AbstractConnection) -> None:
        channel = await connection.channel()
        # Same declaration as shared.messaging.topology (durable topic): idempotent.
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        queue = await channel.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        for event_type in PRODUCT_EVENTS + LISTING_EVENTS:
            await queue.bind(exchange, routing_key=event_type)
        await queue.consume(self._on_event, no_ack=True)
        self.cache.clear()
        self.cache.live = True
        self._subscribed.set()
        log.info("read cache subscribed to catalog events")

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        try:
            payload = wire.loads(message.body)
            product_id = payload.get("product_id") if isinstance(payload, dict) else None
        except ValueError:
            product_id = None
        if message.routing_key in PRODUCT_EVENTS and isinstance(product_id, str):
            self.cache.invalidate_product(product_id)
        elif message.routing_key in PRODUCT_EVENTS:
            self.cache.clear()  # can't tell which product: drop everything
        else:
            self.cache.invalidate_listings()
