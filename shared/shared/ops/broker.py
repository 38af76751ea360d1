"""What `suite-ops` does on the broker, over plain AMQP (pika).

Peeking uses basic.get without ack, then nack-with-requeue of everything it got: the broker
puts the messages back in their original positions, and if this process dies half way it puts
them back anyway (unacked deliveries return when the channel closes). Reading and republishing
instead would create new messages: a crash between the publish and the ack duplicates one, and
the order changes. The cost: a peeked message is marked `redelivered` (harmless in a DLQ; the
suite's DLQs are classic queues without a delivery limit).

Replay publishes with confirms and `mandatory`, and acks the DLQ copy only once the broker has
confirmed routing it. It reads at most as many messages as the queue held when it started, so a
replayed message that is parked again is not read a second time.
"""

from __future__ import annotations

from dataclasses import dataclass

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import ChannelClosedByBroker

from shared.ops.parked import Parked

NOT_FOUND = 404


@dataclass(frozen=True)
class QueueStats:
    queue: str
    exists: bool
    messages: int = 0
    consumers: int = 0


def connect(amqp_uri: str) -> BlockingConnection:
    parameters = pika.URLParameters(amqp_uri)
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    parameters.client_properties = {"connection_name": "suite-ops"}
    return BlockingConnection(parameters)


def stats(connection: BlockingConnection, queues: list[str]) -> list[QueueStats]:
    """Depth and consumer count by passive declare (a missing queue closes the channel)."""
    result: list[QueueStats] = []
    channel = connection.channel()
    for queue in queues:
        try:
            ok = channel.queue_declare(queue, passive=True).method
        except ChannelClosedByBroker as exc:
            if exc.reply_code != NOT_FOUND:
                raise
            result.append(QueueStats(queue, exists=False))
            channel = connection.channel()
            continue
        result.append(QueueStats(queue, True, ok.message_count, ok.consumer_count))
    channel.close()
    return result


def _depth(channel: BlockingChannel, queue: str) -> int:
    return int(channel.queue_declare(queue, passive=True).method.message_count)


def peek(connection: BlockingConnection, queue: str, limit: int) -> list[Parked]:
    channel = connection.channel()
    taken: list[Parked] = []
    try:
        for _ in range(min(_depth(channel, queue), limit)):
            method, properties, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            taken.append(Parked(queue, method.delivery_tag, properties, body))
    finally:
        if taken and channel.is_open:
            channel.basic_nack(taken[-1].delivery_tag, multiple=True, requeue=True)
        if channel.is_open:
            channel.close()
    return taken


def replay(connection: BlockingConnection, queue: str, message_id: str | None) -> list[Parked]:
    """Replay the first message with `message_id`, or every message when it is None."""
    channel = connection.channel()
    channel.confirm_delivery()
    replayed: list[Parked] = []
    kept: int | None = None  # delivery tag of the last message read and not replayed
    try:
        for _ in range(_depth(channel, queue)):
            method, properties, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            parked = Parked(queue, method.delivery_tag, properties, body)
            if message_id is not None and (replayed or parked.id != message_id):
                kept = method.delivery_tag
                continue
            exchange, routing_key = parked.target()
            # Raises UnroutableError / NackError: the copy stays in the DLQ (requeued below).
            channel.basic_publish(exchange, routing_key, body, parked.replay_properties(),
                                  mandatory=True)
            channel.basic_ack(method.delivery_tag)
            replayed.append(parked)
            if message_id is not None:
                break
    finally:
        if kept is not None and channel.is_open:
            channel.basic_nack(kept, multiple=True, requeue=True)
        if channel.is_open:
            channel.close()  # returns anything still unacked to the queue
    return replayed


def purge(connection: BlockingConnection, queue: str) -> int:
    channel = connection.channel()
    try:
        return int(channel.queue_purge(queue).method.message_count)
    finally:
        channel.close()
