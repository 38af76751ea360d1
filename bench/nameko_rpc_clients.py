"""Minimal nameko-protocol RPC clients for bench/amqp_clients.py, one per AMQP library/mode.

Every client does what gateway/gateway/rpc.py does on the wire: publish to the `nameko-rpc`
topic exchange with routing key `<service>.<method>`, content_type application/json,
a correlation id and reply_to = its own routing key, whose reply queue is bound on `nameko-rpc`
(nameko replies there; direct reply-to does not work). Publishes are mandatory, so an unknown
service fails at once, either through a confirm-time return or through the return callback.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import orjson
import pika
from aio_pika.exceptions import DeliveryError, PublishError
from pika.adapters.asyncio_connection import AsyncioConnection

ROOT = Path(__file__).resolve().parents[1]
EXCHANGE = "nameko-rpc"
BODY = orjson.dumps({"args": [], "kwargs": {}})
CONTENT_TYPE, CONTENT_ENCODING = "application/json", "utf-8"


class Unroutable(Exception):
    pass


class RemoteError(Exception):
    pass


class _Base:
    name = "?"

    def __init__(self, amqp_uri: str, timeout: float = 5.0) -> None:
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.reply_to = f"bench-{uuid.uuid4()}"
        self.queue_name = f"rpc.reply-{self.reply_to}"
        self.pending: dict[str, asyncio.Future[Any]] = {}

    def _new_call(self) -> tuple[str, asyncio.Future[Any]]:
        correlation_id = str(uuid.uuid4())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = future
        return correlation_id, future

    def _resolve(self, correlation_id: str | None, body: bytes) -> None:
        future = self.pending.get(correlation_id or "")
        if future is None or future.done():
            return
        reply = orjson.loads(body)
        if reply.get("error"):
            future.set_exception(RemoteError(reply["error"].get("exc_type")))
        else:
            future.set_result(reply.get("result"))

    def _fail(self, correlation_id: str | None, error: Exception) -> None:
        future = self.pending.get(correlation_id or "")
        if future is not None and not future.done():
            future.set_exception(error)


class AioPika(_Base):
    """aio-pika 10, as gateway/gateway/rpc.py uses it (confirms=True) or without confirms."""

    def __init__(self, amqp_uri: str, confirms: bool) -> None:
        super().__init__(amqp_uri)
        self.confirms = confirms
        self.name = "aio-pika, confirms" if confirms else "aio-pika, no confirms"

    async def connect(self) -> None:
        self.connection = await aio_pika.connect(self.amqp_uri)
        channel = await self.connection.channel(publisher_confirms=self.confirms,
                                                on_return_raises=self.confirms)
        if not self.confirms:
            # Never called in fact: aiormq 7 drops returns it cannot match to a confirmation
            # (logs "Unhandled message ... returning"), so here an unknown service times out.
            channel.return_callbacks.add(
                lambda _, message: self._fail(message.correlation_id, Unroutable()))
        self.exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                                       durable=True)
        queue = await channel.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        await queue.bind(self.exchange, routing_key=self.reply_to)
        await queue.consume(lambda m: self._on_reply(m), no_ack=True)

    async def _on_reply(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self._resolve(message.correlation_id, message.body)

    async def call(self, service: str, method: str) -> Any:
        correlation_id, future = self._new_call()
        try:
            message = aio_pika.Message(BODY, content_type=CONTENT_TYPE,
                                       content_encoding=CONTENT_ENCODING,
                                       correlation_id=correlation_id, reply_to=self.reply_to)
            try:
                await self.exchange.publish(message, f"{service}.{method}", mandatory=True,
                                            timeout=self.timeout)
            except (DeliveryError, PublishError):
                raise Unroutable() from None
            return await asyncio.wait_for(future, self.timeout)
        finally:
            self.pending.pop(correlation_id, None)

    async def close(self) -> None:
        await self.connection.close()


class Pika(_Base):
    """pika 1.4's asyncio connection adapter, with or without publisher confirms."""

    def __init__(self, amqp_uri: str, confirms: bool) -> None:
        super().__init__(amqp_uri)
        self.confirms = confirms
        self.name = "pika asyncio, confirms" if confirms else "pika asyncio, no confirms"
        self.next_tag = 1
        self.unconfirmed: dict[int, asyncio.Future[None]] = {}

    @staticmethod
    async def _done(start: Callable[[Callable[..., None]], Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        start(lambda *args: future.done() or future.set_result(args[0] if args else None))
        return await future

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = loop.create_future()
        self.connection = AsyncioConnection(
            pika.URLParameters(self.amqp_uri),
            on_open_callback=lambda _: opened.set_result(None),
            on_open_error_callback=lambda _, exc: opened.set_exception(ConnectionError(exc)),
            custom_ioloop=loop)
        await opened
        self.channel = await self._done(lambda cb: self.connection.channel(on_open_callback=cb))
        if self.confirms:
            await self._done(lambda cb: self.channel.confirm_delivery(self._on_confirm, cb))
        self.channel.add_on_return_callback(
            lambda _ch, _method, props, _body: self._fail(props.correlation_id, Unroutable()))
        await self._done(lambda cb: self.channel.exchange_declare(
            EXCHANGE, exchange_type="topic", durable=True, callback=cb))
        await self._done(lambda cb: self.channel.queue_declare(
            self.queue_name, exclusive=True, auto_delete=True, callback=cb))
        await self._done(lambda cb: self.channel.queue_bind(
            self.queue_name, EXCHANGE, routing_key=self.reply_to, callback=cb))
        await self._done(lambda cb: self.channel.basic_consume(
            self.queue_name, self._on_reply, auto_ack=True, callback=cb))

    def _on_reply(self, _ch: Any, _method: Any, properties: Any, body: bytes) -> None:
        self._resolve(properties.correlation_id, body)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tags = ([t for t in self.unconfirmed if t <= method.delivery_tag] if method.multiple
                else [method.delivery_tag])
        nack = isinstance(method, pika.spec.Basic.Nack)
        for tag in tags:
            future = self.unconfirmed.pop(tag, None)
            if future is not None and not future.done():
                future.set_exception(Unroutable("nacked")) if nack else future.set_result(None)

    async def call(self, service: str, method: str) -> Any:
        correlation_id, future = self._new_call()
        try:
            properties = pika.BasicProperties(content_type=CONTENT_TYPE,
                                              content_encoding=CONTENT_ENCODING,
                                              correlation_id=correlation_id,
                                              reply_to=self.reply_to)
            self.channel.basic_publish(EXCHANGE, f"{service}.{method}", BODY, properties,
                                       mandatory=True)
            if self.confirms:
                confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self.unconfirmed[self.next_tag] = confirmed
                self.next_tag += 1
                # A return (unknown service) arrives before the ack and has failed `future`.
                await asyncio.wait_for(confirmed, self.timeout)
            return await asyncio.wait_for(future, self.timeout)
        finally:
            self.pending.pop(correlation_id, None)

    async def close(self) -> None:
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.connection.add_on_close_callback(lambda *_: closed.done() or closed.set_result(None))
        self.connection.close()
        await asyncio.wait_for(closed, 5)


class GatewayRpc(_Base):
    """The gateway's own client (gateway/gateway/rpc.py), or that file at another git ref."""

    name = "gateway RpcClient (pika, no confirms)"

    def __init__(self, amqp_uri: str, ref: str | None = None) -> None:
        super().__init__(amqp_uri)
        self.ref = ref
        if ref is not None:
            self.name = f"gateway RpcClient at {ref}"

    async def connect(self) -> None:
        if self.ref is None:
            from gateway.rpc import RpcClient
        else:
            RpcClient = _rpc_module_at(self.ref).RpcClient

        self.client = RpcClient(self.amqp_uri, self.timeout)
        await self.client.start()
        if not self.client.connected:
            raise ConnectionError("gateway RpcClient did not connect")

    async def call(self, service: str, method: str) -> Any:
        return await self.client.call(service, method)

    async def close(self) -> None:
        await self.client.stop()


def _rpc_module_at(ref: str) -> Any:
    """gateway/gateway/rpc.py as committed at `ref`, imported under another name."""
    source = subprocess.run(["git", "show", f"{ref}:gateway/gateway/rpc.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="bench-rpc-")) / "gateway_rpc_at_ref.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_clients(amqp_uri: str, gateway_ref: str | None = None) -> dict[str, Any]:
    clients = {"aiopika": AioPika(amqp_uri, confirms=True),
               "pika": Pika(amqp_uri, confirms=True),
               "aiopika-noconfirm": AioPika(amqp_uri, confirms=False),
               "pika-noconfirm": Pika(amqp_uri, confirms=False),
               "gateway": GatewayRpc(amqp_uri)}
    if gateway_ref:
        clients["gateway-ref"] = GatewayRpc(amqp_uri, gateway_ref)
    return clients
