"""One AMQP connection and channel on pika's asyncio adapter, kept up for as long as it is needed.

Used by gateway.rpc (the nameko RPC client) and gateway.cache_events (the read cache's event
subscription): `Link` connects, opens a channel, runs the user's `setup(channel)` (declarations,
consumers), and is `up` from then on. When the connection or the channel goes, `up` is false and
`on_down()` runs at once, inside pika's close callback (so pending work can fail without waiting
for a task to wake), and a new connection is tried every RECONNECT_DELAY until `stop()`.

`parameters()` turns AMQP_URI into pika's parameters, keeping the TLS query arguments the
gateway has always accepted (`cafile`, `capath`, `cadata`, `certfile`, `keyfile`,
`no_verify_ssl`: docs/gateway.md, "TLS"); anything else in the query is pika's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pika
import pika.exceptions
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.channel import Channel

log = logging.getLogger(__name__)
# pika logs every failed connection attempt as half a dozen ERROR lines (one per layer); with a
# retry every RECONNECT_DELAY that floods the log while the broker is down. Link logs one
# WARNING per attempt with the reason instead.
logging.getLogger("pika").setLevel(logging.CRITICAL)

RECONNECT_DELAY = 0.5
CONNECT_TIMEOUT = 3.0  # TCP connect; the whole TCP + TLS + AMQP handshake gets twice that
HEARTBEAT = 30  # seconds; a broker gone silent (no RST) is noticed within about twice that
STOP_TIMEOUT = 2.0
_TLS_ARGUMENTS = ("cafile", "capath", "cadata", "certfile", "keyfile", "no_verify_ssl")

Setup = Callable[[Channel], Awaitable[None]]


def parameters(amqp_uri: str) -> pika.URLParameters:
    """pika's parameters for `amqp_uri`; the TLS arguments become an `ssl.SSLContext`."""
    parts = urlsplit(amqp_uri)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    tls = {key: query.pop(key) for key in _TLS_ARGUMENTS if key in query}
    name = query.pop("name", None)
    params = pika.URLParameters(urlunsplit(parts._replace(query=urlencode(query))))
    if parts.scheme == "amqps" and "ssl_options" not in query:
        # Verifies the chain and the host name (pika passes the URI's host as server_hostname).
        params.ssl_options = pika.SSLOptions(_ssl_context(tls))
    elif tls:
        raise ValueError(f"{', '.join(sorted(tls))} in AMQP_URI need an amqps:// URI")
    if "heartbeat" not in query:
        params.heartbeat = HEARTBEAT
    if "socket_timeout" not in query:
        params.socket_timeout = CONNECT_TIMEOUT
    if "stack_timeout" not in query:
        params.stack_timeout = 2 * CONNECT_TIMEOUT
    if name:
        params.client_properties = {"connection_name": name}
    return params


def _ssl_context(tls: dict[str, str]) -> ssl.SSLContext:
    cadata = tls.get("cadata")
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=tls.get("cafile"), capath=tls.get("capath"),
        cadata=base64.b64decode(cadata) if cadata else None)
    if tls.get("certfile"):
        context.load_cert_chain(tls["certfile"], tls.get("keyfile"))
    if tls.get("no_verify_ssl", "0") != "0":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Link:
    """A connection + channel that stays up: reconnects on its own after any loss."""

    def __init__(self, amqp_uri: str, setup: Setup, on_down: Callable[[], None],
                 what: str) -> None:
        self.parameters = parameters(amqp_uri)  # a bad URI fails here, at start-up
        self.channel: Channel | None = None  # set while up, None at once when down
        self._setup = setup
        self._on_down = on_down
        self._what = what
        self._up = asyncio.Event()
        self._connection: AsyncioConnection | None = None
        self._closed: asyncio.Future[None] | None = None
        self._waiting: set[asyncio.Future[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def up(self) -> bool:
        return self._up.is_set()

    async def start(self, wait: float = 5.0) -> bool:
        """Starts connecting; True if up within `wait` seconds (it keeps trying either way)."""
        self._supervisor = asyncio.create_task(self._stay_connected())
        try:
            await asyncio.wait_for(self._up.wait(), wait)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        connection, closed = self._connection, self._closed
        if connection is not None and closed is not None:
            _close(connection)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(closed), STOP_TIMEOUT)
        self._down()

    async def complete(self, start: Callable[[Callable[..., None]], Any]) -> Any:
        """Runs a callback-style pika operation, `start(callback)`, and returns what the
        callback got (a frame, a channel). Fails with ConnectionError if the link goes."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(*args: Any) -> None:
            if not future.done():
                future.set_result(args[0] if args else None)

        self._waiting.add(future)
        try:
            start(done)
            return await future
        finally:
            self._waiting.discard(future)

    async def _stay_connected(self) -> None:
        while not self._closing:
            try:
                await self._connect_and_serve()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # pika's errors have no common base besides this
                log.warning("%s: broker connection failed: %s: %.300s", self._what,
                            type(exc).__name__, exc)
            self._down()
            await asyncio.sleep(RECONNECT_DELAY)

    async def _connect_and_serve(self) -> None:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = loop.create_future()
        closed: asyncio.Future[None] = loop.create_future()

        def on_open(_connection: Any) -> None:
            if not opened.done():
                opened.set_result(None)

        def on_open_error(_connection: Any, error: BaseException) -> None:
            if not opened.done():
                opened.set_exception(ConnectionError(repr(error)))  # str() may be empty
            if not closed.done():
                closed.set_result(None)

        def on_close(_connection: Any, _error: BaseException) -> None:
            self._down()  # at once: `up` false, pending work failed, before any task runs
            if not closed.done():
                closed.set_result(None)

        connection = AsyncioConnection(self.parameters, on_open, on_open_error, on_close,
                                       custom_ioloop=loop)
        self._connection, self._closed = connection, closed
        try:
            await opened
            channel: Channel = await self.complete(
                lambda callback: connection.channel(on_open_callback=callback))

            def on_channel_close(_channel: Any, _error: BaseException | None) -> None:
                self._down()  # e.g. the broker closed it on an error: the link is down
                _close(connection)

            channel.add_on_close_callback(on_channel_close)
            # The broker cancels a consumer whose queue went (deleted by hand, say): reconnect,
            # which declares and consumes it again, rather than wait for nothing.
            channel.add_on_cancel_callback(lambda _frame: on_channel_close(channel, None))
            await self._setup(channel)
            if closed.done() or not channel.is_open:
                raise ConnectionError("closed during setup")
            self.channel = channel
            self._up.set()
            await asyncio.shield(closed)
        finally:
            _close(connection)

    def _down(self) -> None:
        self._up.clear()
        self.channel = None
        for future in list(self._waiting):
            if not future.done():
                future.set_exception(ConnectionError("AMQP connection closed"))
        self._on_down()


def _close(connection: AsyncioConnection) -> None:
    """Closes an open or opening connection; nothing if it is closing or closed already."""
    if connection.is_closing or connection.is_closed:
        return
    with contextlib.suppress(pika.exceptions.AMQPError):
        connection.close()
