"""The outbox relay in-process (plain threads): what it publishes, how, and when."""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
from msgkit import Broker, failed, msg_environment, succeeded, wait_for
from msgtables import inbox, outbox

from shared import logs, wire
from shared.contracts.events import InvalidEvent
from shared.messaging.confirms import ConfirmingPublisher, Outgoing
from shared.messaging.lag import outbox_lag
from shared.messaging.notify import Listener
from shared.messaging.outbox import record_event
from shared.messaging.relay import Relay, RelaySettings
from shared.messaging.topology import declare_topology


@pytest.fixture
def msg(tmp_path):
    with msg_environment(tmp_path) as env:
        yield env


@pytest.fixture
def tap(msg):
    """A queue bound to every payments event, to see exactly what the relay sent."""
    broker = Broker(msg.amqp_uri)
    broker.channel.exchange_declare("payments.events", "topic", durable=True)
    broker.channel.queue_declare("tap", exclusive=True)
    broker.channel.queue_bind("tap", "payments.events", "#")
    yield broker
    broker.close()


def relay_for(msg, **settings) -> Relay:
    publisher = ConfirmingPublisher(msg.amqp_uri, on_connect=declare_topology)
    return Relay(msg.engine, publisher, RelaySettings(**settings))


def test_committed_events_go_out_persistent_json_with_their_id_and_headers(msg, tap):
    token = logs.bind(request_id="req-7", trace_id="trace-7")
    try:
        ids = [msg.record("payment_succeeded", succeeded()), msg.record("payment_failed", failed())]
    finally:
        logs.reset(token)
    with Session(msg.engine) as session:  # rolled back: must never be published
        record_event(session, outbox, "payments", "payment_failed", failed())
        session.rollback()
    assert relay_for(msg).publish_pending() == 2
    got = [tap.channel.basic_get("tap", auto_ack=True) for _ in range(3)]
    assert got[2][0] is None
    for (method, props, body), event_id, event_type in zip(
            got, ids, ["payment_succeeded", "payment_failed"], strict=False):
        assert (method.exchange, method.routing_key) == ("payments.events", event_type)
        assert props.delivery_mode == 2 and props.content_type == "application/json"
        assert props.message_id == event_id == wire.loads(body)["event_id"]
        assert props.headers == {"nameko.request_id": "req-7", "nameko.trace_id": "trace-7"}
    assert msg.unpublished() == 0


def test_record_event_refuses_a_payload_that_breaks_its_contract(msg):
    with Session(msg.engine) as session, pytest.raises(InvalidEvent, match="amount"):
        record_event(session, outbox, "payments", "payment_succeeded", succeeded(amount=19.99))
    assert msg.count(outbox) == 0


def test_a_crash_between_confirm_and_mark_republishes_the_same_event(msg, tap):
    event_id = msg.record("payment_succeeded", succeeded())
    relay = relay_for(msg)
    real_publish = relay._publisher.publish

    def publish_then_crash(messages):
        real_publish(messages)
        raise ConnectionError("died after the broker confirmed")

    relay._publisher.publish = publish_then_crash
    with pytest.raises(ConnectionError):
        relay.publish_pending()
    assert msg.unpublished() == 1  # the mark rolled back with the crash
    relay._publisher.publish = real_publish
    assert relay.publish_pending() == 1
    bodies = [tap.channel.basic_get("tap", auto_ack=True) for _ in range(2)]
    assert bodies[0][2] == bodies[1][2]
    assert bodies[0][1].message_id == bodies[1][1].message_id == event_id


def test_concurrent_relays_share_the_rows_and_publish_each_once(msg, tap):
    with Session(msg.engine) as session, session.begin():
        for _ in range(600):
            record_event(session, outbox, "payments", "payment_failed", failed())
    relays = [relay_for(msg, batch_size=50) for _ in range(3)]
    threads = [threading.Thread(target=relay.publish_pending) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    while msg.unpublished():  # a relay may stop early on a batch its peers had locked
        relays[0].publish_pending()
    seen: list[str] = []
    while (got := tap.channel.basic_get("tap", auto_ack=True))[0] is not None:
        seen.append(got[1].message_id)
    assert len(seen) == len(set(seen)) == 600


def test_the_relay_wakes_on_commit_not_on_its_poll(msg, tap):
    relay = relay_for(msg, poll_interval=60.0)
    stop = threading.Event()
    runner = threading.Thread(target=relay.run, args=(Listener(msg.db_url), stop.is_set))
    runner.start()
    try:
        time.sleep(1.0)  # the relay is now waiting for a notification
        started = time.monotonic()
        msg.record("payment_succeeded", succeeded())
        wait_for(lambda: msg.unpublished() == 0, timeout=30, what="the publish")
        assert time.monotonic() - started < 30  # far sooner than the 60 s poll
    finally:
        stop.set()
        msg.record("payment_failed", failed())  # wakes the loop so it sees `stop`
        runner.join(70)
    assert not runner.is_alive()
    assert msg.unpublished() == 0  # the last pass published what was committed before stop


def test_lag_counts_pending_events_and_prune_drops_old_rows(msg):
    for _ in range(3):
        msg.record("payment_failed", failed())
    lag = outbox_lag(msg.engine, outbox)
    assert lag.pending == 3 and lag.oldest_age_seconds >= 0.0
    relay = relay_for(msg)
    relay.publish_pending()
    assert outbox_lag(msg.engine, outbox).pending == 0
    assert outbox_lag(msg.engine, outbox).oldest_age_seconds == 0.0
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    with msg.engine.begin() as conn:
        first = conn.execute(select(outbox.c.id).order_by(outbox.c.id).limit(1)).scalar_one()
        conn.execute(update(outbox).where(outbox.c.id == first).values(published_at=old))
        conn.execute(insert(inbox).values(handler="h", message_id="old", processed_at=old))
        conn.execute(insert(inbox).values(handler="h", message_id="new"))
    assert relay.prune() == (1, 1)
    assert msg.count(outbox) == 2 and msg.count(inbox) == 1


def test_the_publisher_reports_what_the_broker_confirmed(msg):
    publisher = ConfirmingPublisher(msg.amqp_uri, on_connect=declare_topology)
    batch = [Outgoing("payments.events", "x", b"{}", f"m-{n}") for n in range(100)]
    assert publisher.publish(batch) == [True] * 100
    publisher.close()  # and it reopens by itself
    assert publisher.publish(batch[:1]) == [True]
    publisher.close()
