"""An asyncio client that speaks nameko's RPC protocol over AMQP (aio-pika).

One exclusive reply queue per process, bound on `nameko-rpc` with its own routing key
(nameko replies to that exchange with routing key = reply_to; direct reply-to does not work).
Requests are mandatory and confirmed, so an unknown service or a dead broker is answered
at once with 503 instead of waiting out the timeout; they also carry a TTL equal to the
timeout, so a request nobody picked up in time is not run later.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aio_pika.exceptions import DeliveryError, PublishError
from pamqp.commands import Basic

from shared import wire
from shared.errors import ServiceUnavailable, SuiteError, UpstreamTimeout, error_for_wire

log = logging.getLogger(__name__)

RPC_EXCHANGE = "nameko-rpc"
RECONNECT_DELAY = 0.5
_CONNECTION_ERRORS = (aio_pika.exceptions.AMQPError, ConnectionError, OSError, RuntimeError)


class RpcClient:
    def __init__(self, amqp_uri: str, timeout: float = 5.0) -> None:
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.reply_to = f"gateway-{uuid.uuid4()}"
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._amqp: aiormq.Channel | None = None  # the channel under aio-pika's
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self, wait: float = 5.0) -> None:
        self._supervisor = asyncio.create_task(self._stay_connected())
        try:
            await asyncio.wait_for(self._connected.wait(), wait)
        except TimeoutError:
            log.warning("broker not reachable yet; calls answer 503 until it is")

    async def stop(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self._connection is not None:
            await self._connection.close()
        self._fail_pending(ServiceUnavailable("gateway shutting down"))

    async def call(self, service: str, method: str, *args: Any,
                   context: dict[str, str] | None = None, timeout: float | None = None,
                   **kwargs: Any) -> Any:
        timeout = self.timeout if timeout is None else timeout
        if not self.connected or self._amqp is None:
            raise ServiceUnavailable("message broker unreachable")
        correlation_id = str(uuid.uuid4())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        published = False
        try:
            # One deadline for the confirmation and the reply: a call never outlasts `timeout`.
            async with asyncio.timeout(timeout):
                await self._publish(service, method, args, kwargs, context, correlation_id,
                                    timeout)
                published = True
                return await future
        except TimeoutError:
            if not published:
                raise UpstreamTimeout("message broker did not confirm in time") from None
            raise UpstreamTimeout(f"{service} did not answer within {timeout:g} s") from None
        finally:
            self._pending.pop(correlation_id, None)

    async def _publish(self, service: str, method: str, args: tuple[Any, ...],
                       kwargs: dict[str, Any], context: dict[str, str] | None,
                       correlation_id: str, timeout: float) -> None:
        # Straight to aiormq with ready-made properties: aio-pika's Message and Exchange.publish
        # cost about a tenth of the gateway's CPU per request (bench/amqp_clients.py).
        assert self._amqp is not None
        properties = Basic.Properties(
            content_type=wire.CONTENT_TYPE, content_encoding=wire.CONTENT_ENCODING,
            correlation_id=correlation_id, message_id=correlation_id, reply_to=self.reply_to,
            headers={f"nameko.{k}": v for k, v in (context or {}).items() if v},
            expiration=str(int(timeout * 1000)), delivery_mode=1)
        try:
            await self._amqp.basic_publish(
                wire.dumpb({"args": list(args), "kwargs": kwargs}), exchange=RPC_EXCHANGE,
                routing_key=f"{service}.{method}", properties=properties, mandatory=True,
                wait=False)  # awaiting the confirmation implies the write
        except (DeliveryError, PublishError):  # nacked, or returned: nobody consumes the key
            raise ServiceUnavailable(f"no such service or method: {service}.{method}") from None
        except _CONNECTION_ERRORS:
            raise ServiceUnavailable("message broker unreachable") from None

    async def _on_reply(self, message: aiormq.abc.DeliveredMessage) -> None:
        future = self._pending.get(message.header.properties.correlation_id or "")
        if future is None or future.done():
            return
        try:
            body = wire.loads(message.body)
        except ValueError:
            future.set_exception(SuiteError("malformed reply"))
            return
        if body.get("error"):
            future.set_exception(error_for_wire(body["error"]))
        else:
            future.set_result(body.get("result"))

    async def _stay_connected(self) -> None:
        while not self._closing:
            try:
                await self._connect()
                assert self._connection is not None
                await self._until_closed(self._connection)
            except asyncio.CancelledError:
                raise
            except _CONNECTION_ERRORS as exc:
                log.warning("broker connection failed: %s", type(exc).__name__)
            self._connected.clear()
            self._fail_pending(ServiceUnavailable("message broker connection lost"))
            await asyncio.sleep(RECONNECT_DELAY)

    @staticmethod
    async def _until_closed(connection: AbstractConnection) -> None:
        closed = asyncio.Event()
        connection.close_callbacks.add(lambda *_: closed.set())
        await closed.wait()

    async def _connect(self) -> None:
        self._connection = await aio_pika.connect(self.amqp_uri, timeout=3)
        self._channel = await self._connection.channel(publisher_confirms=True,
                                                       on_return_raises=True)
        self._exchange = await self._channel.declare_exchange(
            RPC_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        amqp = await self._channel.get_underlay_channel()
        assert isinstance(amqp, aiormq.Channel)
        self._amqp = amqp
        queue = await self._channel.declare_queue(
            f"rpc.reply-{self.reply_to}", exclusive=True, auto_delete=True)
        await queue.bind(self._exchange, routing_key=self.reply_to)
        # Consumed on aiormq's channel: aio-pika's consumer adds a task and a message object
        # per reply on top of aiormq's.
        await amqp.basic_consume(queue.name, self._on_reply, no_ack=True)
        self._connected.set()
        log.info("connected to broker")

    def _fail_pending(self, error: Exception) -> None:
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(error)
