"""Answering an RPC request: always JSON, never crashing on what the request carried.

Replaces nameko's Responder, which picks the reply's serializer from the request's content_type
(KeyError, i.e. a dead container, when it is missing or unknown) and requires `reply_to`.
Replies go out on one long-lived channel per service process (shared.nameko.channel).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import amqp
from nameko.exceptions import UnserializableValueError, serialize
from nameko.rpc import get_rpc_exchange

from shared import wire
from shared.errors import SuiteError
from shared.nameko.channel import BROKER_ERRORS, PublishChannel

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, Any]
_TRANSIENT = 1  # replies go to an exclusive, non-durable queue: nothing to persist


class ReplyChannel:
    """A service's replies, on one PublishChannel without confirms: a reply lost with the
    broker only makes the caller time out and retry with its key, and waiting for a confirm
    would hold a worker for a round trip."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._exchange = get_rpc_exchange(config).name
        self._channel = PublishChannel(config)

    def send(self, routing_key: str, correlation_id: str | None, body: bytes) -> None:
        self._channel.publish(amqp.Message(body, content_type=wire.CONTENT_TYPE,
                                           content_encoding=wire.CONTENT_ENCODING,
                                           correlation_id=correlation_id,
                                           delivery_mode=_TRANSIENT),
                              self._exchange, routing_key)

    def close(self) -> None:
        self._channel.close()


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
        # The broker went away after the work was done (e.g. a broker restart). The reply
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
