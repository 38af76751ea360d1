"""Processes killed with SIGKILL, subscribers that never ran, a broker link that drops: no event
is lost and none is applied twice."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from msgkit import Broker, msg_environment, succeeded, wait_consuming, wait_for
from msgtables import HANDLERS, deliveries, effects

from tests.support.faultproxy import FaultProxy

APPLY = HANDLERS["apply"].queue


@pytest.fixture
def msg(tmp_path):
    with msg_environment(tmp_path) as env:
        yield env


@pytest.fixture
def broker(msg):
    client = Broker(msg.amqp_uri)
    yield client
    client.close()


def test_events_committed_while_the_service_was_killed_are_delivered_after_restart(msg, broker):
    service = msg.start()
    wait_consuming(broker, service, [APPLY])
    first = msg.record("payment_succeeded", succeeded())
    wait_for(lambda: msg.count(effects, event_id=first) == 1, what="the first event")
    service.kill9()
    # Committed between the kill and the restart: nobody is there to publish them.
    later = [msg.record("payment_succeeded", succeeded()) for _ in range(5)]
    time.sleep(1)
    assert msg.unpublished() == 5
    service = msg.start()
    wait_for(lambda: msg.count(effects) == 6, what="all six effects")
    assert all(msg.count(effects, event_id=event_id) == 1 for event_id in [first, *later])
    assert msg.unpublished() == 0


def test_a_handler_killed_after_its_effect_but_before_the_ack_is_not_applied_twice(msg, broker):
    service = msg.start()
    wait_consuming(broker, service, [APPLY])
    event_id = msg.record("payment_succeeded", succeeded(hold_seconds=600))
    # The effect is committed; the handler now sleeps, so the message is still unacked.
    wait_for(lambda: msg.count(effects, event_id=event_id) == 1, what="the effect")
    service.kill9()
    service = msg.start()
    wait_for(lambda: msg.count(deliveries, event_id=event_id) == 2, what="the redelivery")
    wait_for(lambda: broker.counts(APPLY) == (0, 1), what="the redelivery acked")
    assert msg.count(effects, event_id=event_id) == 1


def test_an_event_published_before_the_subscriber_ever_ran_is_delivered(msg, broker):
    publisher = msg.start("msgtest_service:MsgPublisher")
    event_id = msg.record("payment_succeeded", succeeded())
    # Confirmed by the broker (so routed to whatever queues existed) before any subscriber ran.
    wait_for(lambda: msg.unpublished() == 0, what="the relay to publish")
    publisher.terminate()
    assert broker.counts(APPLY) == (1, 0)
    subscriber = msg.start()
    wait_for(lambda: msg.count(effects, event_id=event_id) == 1, what="the effect")
    assert subscriber.alive()


def test_relay_and_consumers_reconnect_after_the_broker_link_drops(msg, broker):
    proxy = FaultProxy.for_uri(msg.amqp_uri).start()
    try:
        service = msg.start(amqp_uri=proxy.uri(msg.amqp_uri))
        wait_consuming(broker, service, [APPLY])
        recorded: list[str] = []
        done = threading.Event()

        def produce() -> None:
            while not done.is_set():
                recorded.append(msg.record("payment_succeeded", succeeded()))
                time.sleep(0.02)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        try:
            for _ in range(2):
                time.sleep(1.5)
                assert proxy.connections >= 2  # the relay's and the consumer's, at least
                proxy.stop()  # every connection of the service drops mid-stream
                time.sleep(1.5)
                proxy.start()
            time.sleep(1.0)
        finally:
            done.set()
            producer.join(10)
        wait_for(lambda: msg.count(effects) >= len(recorded), timeout=120,
                 what=f"{len(recorded)} effects")
        wait_for(lambda: msg.unpublished() == 0, what="the outbox drained")
        assert msg.count(effects) == len(recorded)
        assert all(msg.count(effects, event_id=event_id) == 1 for event_id in recorded)
        assert service.alive()
    finally:
        proxy.close()


def test_a_graceful_stop_finishes_the_event_in_hand_and_acks_it(msg, broker):
    service = msg.start()
    wait_consuming(broker, service, [APPLY])
    event_id = msg.record("payment_succeeded", succeeded(hold_seconds=3))
    wait_for(lambda: msg.count(effects, event_id=event_id) == 1, what="the effect")
    service.terminate()  # SIGTERM while the handler still holds the message
    assert service.proc.returncode is not None
    time.sleep(2)  # an unacked message would be back in the queue by now
    assert broker.counts(APPLY) == (0, 0)  # acked before the connection closed
    assert msg.count(deliveries, event_id=event_id) == 1
