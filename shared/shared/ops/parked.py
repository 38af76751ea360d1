"""A message read from a dead-letter queue: its id, where it came from, how to put it back."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import pika

from shared.messaging import names

_PARKED = frozenset({names.PARKED_ERROR, names.PARKED_ATTEMPTS, names.PARKED_QUEUE,
                     names.PARKED_EXCHANGE, names.PARKED_ROUTING_KEY, names.PARKED_AT})


def _broker_death_header(key: str) -> bool:
    return key == "x-death" or key.startswith(("x-first-death-", "x-last-death-"))


@dataclass(frozen=True)
class Parked:
    queue: str  # the DLQ it was read from
    delivery_tag: int
    properties: pika.BasicProperties
    body: bytes

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.properties.headers or {})

    @property
    def id(self) -> str:
        """message_id, else correlation_id (every RPC request has one), else a content hash."""
        props = self.properties
        if props.message_id:
            return str(props.message_id)
        if props.correlation_id:
            return str(props.correlation_id)
        parked_at = str(self.headers.get(names.PARKED_AT, "")).encode()
        return "sha-" + hashlib.sha256(self.body + parked_at).hexdigest()[:12]

    def target(self) -> tuple[str, str]:
        """(exchange, routing key) to replay to: the PARKED_* headers when the suite parked it;
        for a message the broker dead-lettered (e.g. delivery limit) the queue it died in,
        through the default exchange, so that only that queue gets it again."""
        headers = self.headers
        if names.PARKED_ROUTING_KEY in headers:
            return (str(headers.get(names.PARKED_EXCHANGE) or ""),
                    str(headers[names.PARKED_ROUTING_KEY]))
        return "", self.queue.removesuffix(".dlq")

    def replay_properties(self) -> pika.BasicProperties:
        """The original properties, minus the parking and dead-lettering history: the handler's
        attempt counter (PARKED_ATTEMPTS, x-death) starts again from zero."""
        props = self.properties
        headers = {key: value for key, value in self.headers.items()
                   if key not in _PARKED and not _broker_death_header(key)}
        return pika.BasicProperties(
            content_type=props.content_type, content_encoding=props.content_encoding,
            headers=headers or None, delivery_mode=props.delivery_mode or 2,
            priority=props.priority, correlation_id=props.correlation_id,
            reply_to=props.reply_to, message_id=props.message_id, timestamp=props.timestamp,
            type=props.type, app_id=props.app_id)

    def summary(self) -> dict[str, Any]:
        headers = self.headers
        exchange, routing_key = self.target()
        row: dict[str, Any] = {
            "queue": self.queue, "id": self.id,
            "parked_at": _jsonable(headers.get(names.PARKED_AT)),
            "error": _jsonable(headers.get(names.PARKED_ERROR)),
            "attempts": _jsonable(headers.get(names.PARKED_ATTEMPTS)),
            "exchange": exchange, "routing_key": routing_key,
            "content_type": self.properties.content_type, "size": len(self.body),
            "headers": _jsonable(headers),
        }
        try:
            row["body"] = self.body.decode("utf-8")
        except UnicodeDecodeError:
            row["body_base64"] = base64.b64encode(self.body).decode()
        return row


def _jsonable(value: Any) -> Any:
    # AMQP tables carry bytes and timestamps (x-death), which JSON has not.
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
