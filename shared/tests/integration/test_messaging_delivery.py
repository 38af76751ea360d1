"""Events through real `nameko run` processes: delivered once, context carried, malformed parked."""

from __future__ import annotations

import sys
from pathlib import Path

import pika
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from msgkit import Broker, failed, msg_environment, succeeded, wait_consuming, wait_for
from msgtables import HANDLERS, deliveries, effects

from shared import logs, wire
from shared.messaging import names

APPLY, JUDGE = HANDLERS["apply"].queue, HANDLERS["judge"].queue


@pytest.fixture
def msg(tmp_path):
    with msg_environment(tmp_path) as env:
        yield env


@pytest.fixture
def broker(msg):
    client = Broker(msg.amqp_uri)
    yield client
    client.close()


def test_events_reach_handlers_once_with_the_request_context(msg, broker):
    service = msg.start()
    wait_consuming(broker, service, [APPLY, JUDGE])
    token = logs.bind(request_id="req-from-the-gateway")
    try:
        ids = [msg.record("payment_succeeded", succeeded()) for _ in range(20)]
    finally:
        logs.reset(token)
    wait_for(lambda: msg.count(effects, handler="apply") == 20, what="20 effects")
    assert all(msg.count(effects, event_id=event_id) == 1 for event_id in ids)
    assert msg.count(effects, request_id="req-from-the-gateway") == 20
    assert msg.unpublished() == 0


def test_the_same_event_delivered_three_times_has_one_effect(msg, broker):
    service = msg.start()
    wait_consuming(broker, service, [APPLY])
    payload = {**succeeded(), "event_id": "6f1d2c8e-3b1a-4f0e-9d8c-2a7b5e4c3d21",
               "occurred_at": "2026-11-22T10:00:00Z", "schema_version": 1}
    body = wire.dumpb(payload)
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                      message_id=payload["event_id"])
    for _ in range(3):
        broker.publish("payments.events", "payment_succeeded", body, properties)
    wait_for(lambda: msg.count(deliveries, event_id=payload["event_id"]) == 3,
             what="three deliveries")
    assert msg.count(effects, event_id=payload["event_id"]) == 1


BAD = [  # (body, content_type)
    (b"{not json", "application/json"),
    (wire.dumpb({"x": 1}), None),
    (b'{"payment_id": "nope"}', "application/json"),
]


def test_malformed_messages_are_parked_and_the_service_keeps_going(msg, broker):
    service = msg.start()
    wait_consuming(broker, service, [APPLY])
    payload = {**succeeded(), "occurred_at": "2026-11-22T10:00:00Z", "schema_version": 1}
    no_event_id = wire.dumpb(payload)
    for body, content_type in [*BAD, (no_event_id, "application/json")]:
        broker.publish("payments.events", "payment_succeeded", body,
                       pika.BasicProperties(content_type=content_type, delivery_mode=2))
    good = msg.record("payment_succeeded", succeeded())
    wait_for(lambda: msg.count(effects, event_id=good) == 1, what="the good event")
    dlq = names.dead_letter_queue(APPLY)
    wait_for(lambda: broker.counts(dlq)[0] == 4, what="4 parked messages")
    parked = broker.take_all(dlq)
    errors = [props.headers[names.PARKED_ERROR] for props, _ in parked]
    for (body, _), (props, parked_body) in zip(BAD, parked, strict=False):
        assert parked_body == body
        assert props.headers[names.PARKED_QUEUE] == APPLY
    for reason, error in zip(["not valid JSON", "content_type", "payment_id", "event_id"],
                             errors, strict=True):
        assert error.startswith("Malformed") and reason in error
    assert service.alive()
    assert msg.count(deliveries) == 1  # the handler never saw the malformed ones


def test_a_failing_handler_is_retried_with_backoff_then_parked_while_others_flow(msg, broker):
    service = msg.start(MSGTEST_MAX_RETRIES="3", MSGTEST_BASE_DELAY="1.0")
    wait_consuming(broker, service, [JUDGE])
    poison = msg.record("payment_failed", failed("poison"))
    wait_for(lambda: msg.count(deliveries, event_id=poison) >= 1, what="first attempt")
    good = [msg.record("payment_failed", failed()) for _ in range(30)]
    wait_for(lambda: msg.count(effects, handler="judge") == 30, what="the good events")
    # Retries wait 1 + 2 + 4 s: the good events went through while the poison was waiting.
    assert msg.count(deliveries, event_id=poison) < 4
    assert broker.counts(names.dead_letter_queue(JUDGE))[0] == 0
    dlq = names.dead_letter_queue(JUDGE)
    wait_for(lambda: broker.counts(dlq)[0] == 1, what="the poison parked")
    [(props, body)] = broker.take_all(dlq)
    assert wire.loads(body)["event_id"] == poison
    assert props.headers[names.PARKED_ATTEMPTS] == 4
    assert props.headers[names.PARKED_ERROR] == "RuntimeError: this event can never be handled"
    assert props.headers[names.PARKED_QUEUE] == JUDGE
    assert msg.count(deliveries, event_id=poison) == 4  # 1 + 3 retries, no hot loop
    assert all(msg.count(effects, event_id=event_id) == 1 for event_id in good)
    assert service.alive()
