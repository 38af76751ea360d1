"""Revoked sessions reach this gateway process within a second: auth's `user_sessions_revoked`.

Each gateway process binds its own exclusive, auto-delete queue on `auth.events` (every gateway
sees every revocation) and applies each one to the `Revocations` table its token cache checks
(shared.revocations). Only auth's broker user counts as the sender.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pika.channel import Channel
from pika.exchange_type import ExchangeType

from gateway.amqp import Link
from shared.messaging.identity import sender
from shared.revocations import EVENT_TYPE, EXCHANGE, Revocations, apply_event

log = logging.getLogger(__name__)


class RevocationFeed:
    def __init__(self, amqp_uri: str, revocations: Revocations | None = None) -> None:
        self.revocations = revocations or Revocations()
        self.queue_name = f"gateway-revocations-{uuid.uuid4()}"
        self._link = Link(amqp_uri, self._subscribe, lambda: None, "revocations")

    @property
    def subscribed(self) -> bool:
        return self._link.up

    async def start(self, wait: float = 5.0) -> None:
        if not await self._link.start(wait):
            log.warning("auth events unreachable; revocations apply once they are")

    async def stop(self) -> None:
        await self._link.stop()

    async def _subscribe(self, channel: Channel) -> None:
        # Same declaration as shared.messaging.topology (durable topic): idempotent.
        await self._link.complete(lambda done: channel.exchange_declare(
            EXCHANGE, exchange_type=ExchangeType.topic, durable=True, callback=done))
        await self._link.complete(lambda done: channel.queue_declare(
            self.queue_name, exclusive=True, auto_delete=True, callback=done))
        await self._link.complete(lambda done: channel.queue_bind(
            self.queue_name, EXCHANGE, routing_key=EVENT_TYPE, callback=done))
        await self._link.complete(lambda done: channel.basic_consume(
            self.queue_name, self._on_event, auto_ack=True, callback=done))

    def _on_event(self, _channel: Any, _method: Any, properties: Any, body: bytes) -> None:
        apply_event(self.revocations, sender({"user_id": properties.user_id}), body)
