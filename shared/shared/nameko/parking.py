"""Parking a message that cannot be processed in `<queue>.dlq`, byte for byte, with why.

The copy keeps the raw body and the original properties so that `suite-ops dlq replay` can put
it back where it came from, plus the PARKED_* headers (shared.messaging.names). A few
properties are not copied: `expiration` (a request's TTL would silently delete the parked copy),
`user_id` (the broker refuses it unless it is our own login) and `delivery_mode` (parked
messages are always persistent).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.pools import connections
from nameko.constants import DEFAULT_TRANSPORT_OPTIONS

from shared.messaging import names
from shared.messaging.identity import connection_user
from shared.messaging.queue_types import dead_letter_queue_arguments
from shared.nameko.envelope import raw_body

_KEPT = ("correlation_id", "reply_to", "message_id", "timestamp", "type", "app_id", "priority")
_PERSISTENT = 2


def dead_letter_queue(queue: str) -> Queue:
    """`<queue>.dlq` on the DLX, declared exactly as shared.messaging.topology declares it."""
    dlx = Exchange(names.DLX, type="direct", durable=True)  # type: ignore[no-untyped-call]
    return Queue(names.dead_letter_queue(queue), dlx, routing_key=queue,  # type: ignore[no-untyped-call]
                 durable=True, queue_arguments=dead_letter_queue_arguments())


def parked_headers(message: Any, queue: str, reason: str, attempts: int = 1) -> dict[str, Any]:
    info = message.delivery_info or {}
    headers = dict(message.headers or {})
    headers.update({
        names.PARKED_ERROR: reason[:1000],
        names.PARKED_ATTEMPTS: attempts,
        names.PARKED_QUEUE: queue,
        names.PARKED_EXCHANGE: str(info.get("exchange") or ""),
        names.PARKED_ROUTING_KEY: str(info.get("routing_key") or queue),
        names.PARKED_AT: dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
    })
    return headers


def park(amqp_uri: str, queue: str, message: Any, reason: str, *, ssl: Any = None,
         login_method: str | None = None) -> None:
    """Publish the copy to the DLX and wait for the broker's confirm; raises if not parked."""
    properties = {key: message.properties[key] for key in _KEPT
                  if message.properties.get(key) is not None}
    options = {**DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": True}
    conn = Connection(amqp_uri, transport_options=options, ssl=ssl,  # type: ignore[no-untyped-call]
                      login_method=login_method)
    with connections[conn].acquire(block=True) as connection:
        channel = connection.default_channel
        # Declared every time, not cached: parking is rare and must work even if an operator
        # deleted the DLQ since the last park.
        dead_letter_queue(queue).bind(channel).declare()  # type: ignore[no-untyped-call]
        amqp_message = channel.prepare_message(
            raw_body(message), content_type=message.content_type,
            content_encoding=message.content_encoding,
            headers=parked_headers(message, queue, reason),
            properties={**properties, "delivery_mode": _PERSISTENT,
                        "user_id": connection_user(amqp_uri)})
        # Mandatory + confirms: returns only once the DLQ holds the copy, raises otherwise.
        channel.basic_publish(amqp_message, exchange=names.DLX, routing_key=queue,
                              mandatory=True)
