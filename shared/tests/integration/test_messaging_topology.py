"""The whole topology declares on a fresh vhost, redeclares without error, and routes as named."""

from __future__ import annotations

import time

from kombu import Connection, Exchange, Producer, Queue

from shared.messaging import names, topology


def test_topology_declares_twice_and_routes_events_and_dead_letters(amqp_uri):
    with Connection(amqp_uri) as conn:
        topology.declare_topology(conn)
        topology.declare_topology(conn)  # every service redeclares it at startup
        sub = topology.SUBSCRIPTIONS[0]
        channel = conn.channel()
        producer = Producer(channel)
        producer.publish(b"{}", exchange=sub.exchange, routing_key=sub.event_type,
                         content_type="application/json")
        producer.publish(b"x", exchange=names.DLX, routing_key=sub.queue)
        producer.publish(b"y", exchange=names.DLX, routing_key=names.rpc_queue("catalog"))
        wanted = [sub.queue, names.dead_letter_queue(sub.queue),
                  names.dead_letter_queue(names.rpc_queue("catalog"))]
        deadline = time.monotonic() + 30
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:  # quorum queue counts lag the publish a little
            counts = {name: channel.queue_declare(name, passive=True)[1] for name in wanted}
            if all(counts.values()):
                break
            time.sleep(0.1)
        channel.close()
    assert counts == dict.fromkeys(wanted, 1)


def test_retry_queue_returns_an_expired_message_to_its_handler_queue(amqp_uri):
    sub = topology.SUBSCRIPTIONS[1]
    with Connection(amqp_uri) as conn:
        topology.declare_topology(conn)
        channel = conn.channel()
        Producer(channel).publish(b"{}", exchange=names.RETRY_EXCHANGE, routing_key=sub.queue,
                                  expiration=0.05)
        queue = Queue(sub.queue, Exchange(sub.exchange, type="topic"),
                      queue_arguments=topology.handler_queue_arguments(sub.queue)).bind(channel)
        message = None
        for _ in range(300):
            message = queue.get(no_ack=True)
            if message is not None:
                break
            time.sleep(0.1)
        channel.close()
    assert message is not None and message.body == b"{}"

