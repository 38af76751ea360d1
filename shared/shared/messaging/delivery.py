"""What an event consumer does with a delivery, without nameko: decode, retry later, or park.

- A message that can never succeed (not JSON, no content type, breaks its contract, no
  event_id) goes straight to `<queue>.dlq`.
- A handler failure sends a copy to `suite.retry` with a growing per-message TTL; the retry
  queue hands it back to the handler queue when the TTL runs out. The original is acked, so
  the queue keeps flowing meanwhile (no head-of-line blocking, no hot loop).
- After `max_retries` retries the copy goes to `<queue>.dlq` with the error and attempt count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shared import wire
from shared.contracts.events import Event, InvalidEvent, validate_event
from shared.messaging import names
from shared.messaging.confirms import Outgoing
from shared.messaging.identity import sender
from shared.messaging.topology import Subscription


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    base_delay: float = 1.0  # seconds before the first retry; doubles every time
    max_delay: float = 60.0

    def delay_ms(self, failures: int) -> int:
        return int(min(self.max_delay, self.base_delay * 2 ** (failures - 1)) * 1000)


@dataclass(frozen=True)
class Delivery:
    """The raw AMQP message, kept byte for byte so a retried or parked copy is the original."""

    body: bytes
    content_type: str | None
    message_id: str | None
    headers: dict[str, Any] = field(default_factory=dict)
    publisher: str | None = None  # the broker user that published the original

    @classmethod
    def received(cls, body: bytes, content_type: str | None, properties: dict[str, Any],
                 headers: dict[str, Any], own_user: str) -> Delivery:
        """A delivery from the broker; a copy this subscriber republished (a retry) names its
        original publisher in a header, which only this subscriber's own user could set."""
        user = sender(properties)
        if user == own_user:
            original = headers.get(names.ORIGINAL_USER)
            user = original if isinstance(original, str) else user
        return cls(body=body, content_type=content_type or None,
                   message_id=properties.get("message_id"), headers=headers, publisher=user)

    @property
    def failures(self) -> int:
        """How many times handlers already failed on this message (0 on first delivery)."""
        value = self.headers.get(names.PARKED_ATTEMPTS, 0)
        return value if isinstance(value, int) and value >= 0 else 0

    @property
    def context(self) -> dict[str, str]:
        """The caller's request context, as nameko's `nameko.*` headers carry it."""
        return {key.removeprefix("nameko."): value for key, value in self.headers.items()
                if key.startswith("nameko.") and isinstance(value, str)}


class Malformed(Exception):
    """The message can never be handled: park it at once."""


def decode(subscription: Subscription, delivery: Delivery) -> Event:
    content_type = (delivery.content_type or "").split(";")[0].strip().lower()
    if content_type != wire.CONTENT_TYPE:
        raise Malformed(f"content_type is {delivery.content_type or 'missing'!r}, "
                        f"not {wire.CONTENT_TYPE}")
    try:
        payload = wire.loads(delivery.body)
    except ValueError:
        raise Malformed("body is not valid JSON") from None
    try:
        return validate_event(subscription.exchange, subscription.event_type, payload)
    except InvalidEvent as exc:
        raise Malformed(str(exc)) from None


def retry_copy(subscription: Subscription, delivery: Delivery, error: str,
               policy: RetryPolicy) -> Outgoing:
    failures = delivery.failures + 1
    headers = {**delivery.headers, names.PARKED_ATTEMPTS: failures, names.PARKED_ERROR: error}
    return _copy(delivery, names.RETRY_EXCHANGE, subscription.queue, headers,
                 expiration_ms=policy.delay_ms(failures))


def parked_copy(subscription: Subscription, delivery: Delivery, error: str,
                attempts: int) -> Outgoing:
    # Replaying goes back to this handler's queue only (default exchange, key = queue), not to
    # the event exchange, which would deliver it again to every other subscriber.
    headers = {**delivery.headers, names.PARKED_ERROR: error, names.PARKED_ATTEMPTS: attempts,
               names.PARKED_QUEUE: subscription.queue, names.PARKED_EXCHANGE: "",
               names.PARKED_ROUTING_KEY: subscription.queue,
               names.PARKED_AT: wire.utcnow().isoformat().replace("+00:00", "Z")}
    return _copy(delivery, names.DLX, subscription.queue, headers)


def _copy(delivery: Delivery, exchange: str, routing_key: str, headers: dict[str, Any],
          expiration_ms: int | None = None) -> Outgoing:
    if delivery.publisher is not None:
        headers = {**headers, names.ORIGINAL_USER: delivery.publisher}
    return Outgoing(exchange=exchange, routing_key=routing_key, body=delivery.body,
                    message_id=delivery.message_id, headers=headers,
                    expiration_ms=expiration_ms, content_type=delivery.content_type)


_CREDENTIALS = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def error_summary(exc: BaseException) -> str:
    """Type and the first line of the message, short, with URL credentials masked.

    Later lines are dropped: database errors put the SQL and its parameters there.
    """
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = _CREDENTIALS.sub("://***@", text)[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
