"""Answering an RPC request: always JSON, never crashing on what the request carried.

Replaces nameko's Responder, which picks the reply's serializer from the request's content_type
(KeyError, i.e. a dead container, when it is missing or unknown) and requires `reply_to`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import kombu.exceptions
import kombu.serialization
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.exceptions import UnserializableValueError, serialize
from nameko.rpc import get_rpc_exchange

from shared.errors import SuiteError

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, Any]


def error_body(error: BaseException) -> dict[str, Any]:
    """nameko's reply for an error: {"result": null, "error": {exc_type, exc_path, ...}}."""
    return {"result": None, "error": serialize(error)}


def send_reply(config: dict[str, Any], message: Any, result: Any,
               exc_info: ExcInfo | None) -> tuple[Any, ExcInfo | None]:
    """Answer `message` if it asked for an answer; returns (result, exc_info) as nameko does."""
    error = serialize(exc_info[1]) if exc_info is not None else None
    try:
        kombu.serialization.dumps(result, "json")  # type: ignore[no-untyped-call]
    except Exception:
        # As nameko does: a result that cannot be sent becomes an error, not a dead container.
        exc_info = sys.exc_info()  # type: ignore[assignment]
        error = serialize(UnserializableValueError(result))
        result = None
    try:
        publish(config, message, {"result": result, "error": error})
    except (kombu.exceptions.OperationalError, OSError) as exc:
        # The broker went away after the work was done (measured: a broker restart). The reply
        # is lost either way and the caller times out and retries with its key; raising here
        # would kill the container, every other running call with it, and the process.
        log.warning("could not send an RPC reply (%s); the caller will time out",
                    type(exc).__name__,
                    extra={"correlation_id": (message.properties or {}).get("correlation_id")})
    return result, exc_info


def send_error(config: dict[str, Any], message: Any, error: SuiteError) -> None:
    publish(config, message, error_body(error))


def publish(config: dict[str, Any], message: Any, payload: dict[str, Any]) -> None:
    reply_to = (message.properties or {}).get("reply_to")
    if not reply_to:
        # Fire-and-forget request (nameko's Responder raises KeyError here).
        return
    # No publisher confirm on replies: a reply lost with the broker only makes the caller time
    # out and retry with its key, and waiting for the confirm holds a worker for a round trip.
    publisher = Publisher(config[AMQP_URI_CONFIG_KEY], ssl=config.get(AMQP_SSL_CONFIG_KEY),
                          login_method=config.get(LOGIN_METHOD_CONFIG_KEY), use_confirms=False)
    publisher.publish(payload, serializer="json", exchange=get_rpc_exchange(config),
                      routing_key=reply_to,
                      correlation_id=message.properties.get("correlation_id"))
