"""Answering an RPC request: always JSON, never crashing on what the request carried.

Replaces nameko's Responder, which picks the reply's serializer from the request's content_type
(KeyError, i.e. a dead container, when it is missing or unknown) and requires `reply_to`.
Replies go out on one long-lived channel per service process (`ReplyChannel`): nameko's
Publisher takes a producer from kombu's pool, wraps the publish in `ensure` and serialises
twice per reply, which was about a sixth of a trivial call's CPU in the service (py-spy).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

import amqp
import kombu.exceptions
from eventlet.semaphore import Semaphore
from kombu.connection import Connection
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.exceptions import UnserializableValueError, serialize
from nameko.rpc import get_rpc_exchange

from shared import wire
from shared.errors import SuiteError

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, Any]
BROKER_ERRORS = (kombu.exceptions.OperationalError, amqp.exceptions.AMQPError, OSError)
_TRANSIENT = 1  # replies go to an exclusive, non-durable queue: nothing to persist
CONNECT_TIMEOUT = 2.0


class ReplyChannel:
    """One connection and channel for a service's replies, reopened after a broker restart.

    Green threads share it under a lock: a frame must go out whole. No publisher confirms: a
    reply lost with the broker only makes the caller time out and retry with its key, and
    waiting for a confirm would hold a worker for a round trip. No heartbeat: the channel only
    writes, and a dead connection shows up as an error on the next write, then is reopened.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._exchange = get_rpc_exchange(config).name
        self._lock = Semaphore()
        self._connection: Connection | None = None
        self._channel: Any = None

    def send(self, routing_key: str, correlation_id: str | None, body: bytes) -> None:
        message = amqp.Message(body, content_type=wire.CONTENT_TYPE,
                               content_encoding=wire.CONTENT_ENCODING,
                               correlation_id=correlation_id, delivery_mode=_TRANSIENT)
        with self._lock:
            try:
                self._publish(routing_key, message)
            except BROKER_ERRORS:
                self._drop()  # a broker restart since the last reply: one fresh connection
                self._publish(routing_key, message)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _publish(self, routing_key: str, message: amqp.Message) -> None:
        if self._channel is None:
            connection = Connection(  # type: ignore[no-untyped-call]
                self._config[AMQP_URI_CONFIG_KEY], ssl=self._config.get(AMQP_SSL_CONFIG_KEY),
                login_method=self._config.get(LOGIN_METHOD_CONFIG_KEY), heartbeat=0,
                connect_timeout=CONNECT_TIMEOUT)
            self._connection = connection
            self._channel = connection.default_channel
        self._channel.basic_publish(message, exchange=self._exchange, routing_key=routing_key)

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(*BROKER_ERRORS):  # it may be dead already
                connection.release()  # type: ignore[no-untyped-call]


def error_body(error: BaseException) -> dict[str, Any]:
    """nameko's reply for an error: {"result": null, "error": {exc_type, exc_path, ...}}."""
    return {"result": None, "error": serialize(error)}


def send_reply(channel: ReplyChannel, message: Any, result: Any,
               exc_info: ExcInfo | None) -> tuple[Any, ExcInfo | None]:
    """Answer `message` if it asked for an answer; returns (result, exc_info) as nameko does."""
    error = serialize(exc_info[1]) if exc_info is not None else None
    try:
        body = wire.dumpb({"result": result, "error": error})
    except TypeError:
        # As nameko does: a result that cannot be sent becomes an error, not a dead container.
        exc_info = sys.exc_info()  # type: ignore[assignment]
        body = wire.dumpb(error_body(UnserializableValueError(result)))
        result = None
    try:
        publish(channel, message, body)
    except BROKER_ERRORS as exc:
        # The broker went away after the work was done (measured: a broker restart). The reply
        # is lost either way and the caller times out and retries with its key; raising here
        # would kill the container, every other running call with it, and the process.
        log.warning("could not send an RPC reply (%s); the caller will time out",
                    type(exc).__name__,
                    extra={"correlation_id": (message.properties or {}).get("correlation_id")})
    return result, exc_info


def send_error(channel: ReplyChannel, message: Any, error: SuiteError) -> None:
    publish(channel, message, wire.dumpb(error_body(error)))


def publish(channel: ReplyChannel, message: Any, body: bytes) -> None:
    properties = message.properties or {}
    reply_to = properties.get("reply_to")
    if not reply_to:
        # Fire-and-forget request (nameko's Responder raises KeyError here).
        return
    channel.send(reply_to, properties.get("correlation_id"), body)
