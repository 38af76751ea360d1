"""What the run does on the private broker itself (pika, blocking; call from a thread).

- a tap: a private queue bound like catalog's `payment_succeeded` queue, so the run holds
  byte-identical copies of events the catalog was given, to republish one as a duplicate;
- poison: garbage JSON into a handler queue and into an RPC queue;
- queue depths and DLQ contents, through the ops CLI's own helpers (shared.ops).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingConnection

from shared.messaging import names, topology
from shared.ops import broker, queues

TAP = "chaos.tap.payment_succeeded"
SUCCEEDED_QUEUE = topology.find("payments", "payment_succeeded", "catalog",
                                "on_payment_succeeded").queue
POISON_BODY = b'{"event_id": "chaos-poison", "this is": not JSON'


@dataclass(frozen=True)
class Copy:
    event_id: str
    payment_id: str
    properties: pika.BasicProperties
    body: bytes


def connect(uri: str) -> BlockingConnection:
    return broker.connect(uri)


def declare_tap(uri: str) -> None:
    with connect(uri) as conn:
        channel = conn.channel()
        channel.queue_declare(TAP, durable=True, arguments={"x-max-length": 500})
        channel.queue_bind(TAP, names.event_exchange("payments"), "payment_succeeded")


def take_delivered(uri: str, delivered: Callable[[str], bool], limit: int = 500) -> Copy | None:
    """A tapped payment_succeeded whose event the catalog has already applied (inbox row)."""
    import orjson

    with connect(uri) as conn:
        channel = conn.channel()
        found: Copy | None = None
        for _ in range(limit):
            method, props, body = channel.basic_get(TAP, auto_ack=True)
            if method is None:
                break
            event = orjson.loads(body)
            if delivered(str(props.message_id)):
                found = Copy(str(props.message_id), str(event["payment_id"]), props, body)
                break
        return found


def republish(payments_uri: str, copy: Copy) -> None:
    """The same bytes and properties, straight into catalog's queue, as payments (its user_id
    is the original's): through the requeue exchange, since no service user may write to the
    default exchange."""
    with connect(payments_uri) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(names.REQUEUE_EXCHANGE, SUCCEEDED_QUEUE, copy.body,
                              copy.properties, mandatory=True)


def poison(uri: str, reply_timeout: float = 15.0) -> dict[str, Any]:
    """Garbage JSON to catalog's payment_succeeded queue and to its RPC queue (with a reply
    queue: the caller must be told BadRequest). Returns the message ids and the RPC reply."""
    token = secrets.token_hex(4)
    event_id, rpc_id = f"chaos-poison-evt-{token}", f"chaos-poison-rpc-{token}"
    with connect(uri) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        reply_queue = f"chaos-reply-{token}"
        channel.queue_declare(reply_queue, exclusive=True, auto_delete=True)
        channel.queue_bind(reply_queue, names.RPC_EXCHANGE, reply_queue)
        channel.basic_publish("", SUCCEEDED_QUEUE, POISON_BODY, pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=event_id),
            mandatory=True)
        channel.basic_publish(names.RPC_EXCHANGE, "catalog.get_product", POISON_BODY,
                              pika.BasicProperties(content_type="application/json",
                                                   message_id=rpc_id, correlation_id=rpc_id,
                                                   reply_to=reply_queue, delivery_mode=2),
                              mandatory=True)
        reply = _wait_reply(channel, reply_queue, reply_timeout)
    return {"event_message_id": event_id, "rpc_message_id": rpc_id, "rpc_reply": reply}


def _wait_reply(channel: Any, queue: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        method, _, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            return bytes(body).decode(errors="replace")[:300]
        time.sleep(0.2)
    return None


def depths(uri: str) -> dict[str, int]:
    """Messages ready in every queue the suite declares (-1: missing)."""
    with connect(uri) as conn:
        return {s.queue: (s.messages if s.exists else -1)
                for s in broker.stats(conn, queues.suite_queues())}


def parked(uri: str) -> list[dict[str, Any]]:
    """Every message in every DLQ (peeked, kept): queue, id, error."""
    with connect(uri) as conn:
        existing = [s.queue for s in broker.stats(conn, queues.dead_letter_queues()) if s.exists]
        return [{"queue": p.queue, "id": p.id,
                 "error": str(p.headers.get(names.PARKED_ERROR, ""))[:200]}
                for q in existing for p in broker.peek(conn, q, 1000)]
