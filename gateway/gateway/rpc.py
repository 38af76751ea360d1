"""An asyncio client that speaks nameko's RPC protocol over AMQP (pika's asyncio adapter).

One exclusive reply queue per process, bound on `nameko-rpc` with its own routing key
(nameko replies to that exchange with routing key = reply_to; direct reply-to does not work).
Requests are published `mandatory`, so a routing key nobody consumes comes back as a
`basic.return` and the call is answered 503 at once; a lost connection fails every pending call
with 503 at once. There are no publisher confirms (ADR 0007): the reply, or the timeout, ends
every call. Requests carry a TTL equal to the timeout, so one nobody picked up in time is not
run later. Requests carry `user_id` (the broker checks it), and a reply counts only if the
called service's broker user sent it (shared.messaging.identity): anyone may publish to the
reply key.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pika
import pika.exceptions
from pika.channel import Channel
from pika.exchange_type import ExchangeType

from gateway.amqp import RECONNECT_DELAY, Link
from shared import wire
from shared.errors import ServiceUnavailable, SuiteError, UpstreamTimeout, error_for_wire
from shared.messaging.identity import component_user, connection_user, sender

__all__ = ["RECONNECT_DELAY", "RPC_EXCHANGE", "RpcClient"]

log = logging.getLogger(__name__)

RPC_EXCHANGE = "nameko-rpc"
_PUBLISH_ERRORS = (pika.exceptions.AMQPError, ConnectionError, OSError)


class RpcClient:
    def __init__(self, amqp_uri: str, timeout: float = 5.0) -> None:
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.reply_to = f"gateway-{uuid.uuid4()}"
        self.user = connection_user(amqp_uri)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._senders: dict[str, str] = {}  # correlation id -> the broker user that must answer
        self._link = Link(amqp_uri, self._setup, self._on_down, "rpc")

    @property
    def connected(self) -> bool:
        return self._link.up

    async def start(self, wait: float = 5.0) -> None:
        if not await self._link.start(wait):
            log.warning("broker not reachable yet; calls answer 503 until it is")

    async def stop(self) -> None:
        self._fail_pending(ServiceUnavailable("gateway shutting down"))
        await self._link.stop()

    async def call(self, service: str, method: str, *args: Any,
                   context: dict[str, str] | None = None, timeout: float | None = None,
                   **kwargs: Any) -> Any:
        timeout = self.timeout if timeout is None else timeout
        channel = self._link.channel
        if channel is None:
            raise ServiceUnavailable("message broker unreachable")
        body = wire.dumpb({"args": list(args), "kwargs": kwargs})
        correlation_id = str(uuid.uuid4())
        properties = pika.BasicProperties(
            content_type=wire.CONTENT_TYPE, content_encoding=wire.CONTENT_ENCODING,
            correlation_id=correlation_id, message_id=correlation_id, reply_to=self.reply_to,
            headers={f"nameko.{k}": v for k, v in context.items() if v} if context else None,
            expiration=str(int(timeout * 1000)), delivery_mode=1, user_id=self.user)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        self._senders[correlation_id] = component_user(service)
        try:
            try:
                # Buffered by pika and written once per loop turn; a return or the reply
                # resolves `future` from pika's read callback.
                channel.basic_publish(RPC_EXCHANGE, f"{service}.{method}", body, properties,
                                      mandatory=True)
            except _PUBLISH_ERRORS:
                raise ServiceUnavailable("message broker unreachable") from None
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise UpstreamTimeout(f"{service} did not answer within {timeout:g} s") from None
        finally:
            del self._pending[correlation_id]
            del self._senders[correlation_id]

    def _on_reply(self, _channel: Any, _method: Any, properties: Any, body: bytes) -> None:
        future = self._pending.get(properties.correlation_id or "")
        if future is None or future.done():
            return  # a late reply (its caller timed out) or not ours
        expected = self._senders[properties.correlation_id]
        if sender({"user_id": properties.user_id}) != expected:
            log.warning("dropped a reply from broker user %s; expected %s",
                        properties.user_id or "(none)", expected)
            return
        try:
            reply = wire.loads(body)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            future.set_exception(SuiteError("malformed reply"))
        elif reply.get("error"):
            future.set_exception(error_for_wire(reply["error"]))
        else:
            future.set_result(reply.get("result"))

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        # mandatory + no queue bound for the routing key: nobody serves this service/method.
        future = self._pending.get(properties.correlation_id or "")
        if future is not None and not future.done():
            future.set_exception(
                ServiceUnavailable(f"no such service or method: {method.routing_key}"))

    async def _setup(self, channel: Channel) -> None:
        channel.add_on_return_callback(self._on_return)
        await self._link.complete(lambda done: channel.exchange_declare(
            RPC_EXCHANGE, exchange_type=ExchangeType.topic, durable=True, callback=done))
        queue = f"rpc.reply-{self.reply_to}"
        await self._link.complete(lambda done: channel.queue_declare(
            queue, exclusive=True, auto_delete=True, callback=done))
        await self._link.complete(lambda done: channel.queue_bind(
            queue, RPC_EXCHANGE, routing_key=self.reply_to, callback=done))
        await self._link.complete(lambda done: channel.basic_consume(
            queue, self._on_reply, auto_ack=True, callback=done))
        log.info("connected to broker")

    def _on_down(self) -> None:
        self._fail_pending(ServiceUnavailable("message broker connection lost"))

    def _fail_pending(self, error: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
