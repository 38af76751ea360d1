"""SIGTERM while workers are recording events: they finish, and the outbox relay publishes what
they committed before the process exits (within 10 s)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pika
import pytest
from sqlalchemy import create_engine, select

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importlib mode: helpers beside us
from rpcprobe_support import RELAY, RawRpc, eventually, running

from shared import wire
from shared.messaging.tables import OUTBOX
from tests.support import infra

EXIT_BOUND = 10.0
CALLS = 5


@pytest.fixture
def outbox_url():
    name = infra.unique("relayflush")
    url = infra.create_database(name)
    engine = create_engine(url)
    OUTBOX.metadata.create_all(engine)
    engine.dispose()
    try:
        yield url
    finally:
        infra.drop_database(name)


@pytest.fixture
def events(amqp_uri):
    """A queue that receives every catalog product_deleted event, and a way to read it."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.exchange_declare("catalog.events", "topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "catalog.events", "product_deleted")

    def received() -> list[dict]:
        bodies = []
        while (message := channel.basic_get(queue, auto_ack=True))[0] is not None:
            bodies.append(wire.loads(message[2]))
        return bodies

    yield received
    connection.close()


def test_sigterm_lets_workers_finish_and_the_relay_publish_their_events(
        suite_env, amqp_uri, outbox_url, events, tmp_path):
    env = {**suite_env, "RPCPROBE_DATABASE_URL": outbox_url,
           "RPCPROBE_LEDGER": str(tmp_path / "ledger")}
    rpc = RawRpc(amqp_uri)
    engine = create_engine(outbox_url)
    try:
        with running(env, tmp_path / "relay.log", rpc, (RELAY,)) as service:
            products = [str(uuid.uuid4()) for _ in range(CALLS)]
            calls = [rpc.request("rpcrelay", "delete_product", pid, 3.0) for pid in products]
            rpc.pump(1.0)  # the calls are running when SIGTERM arrives
            took = service.terminate()
        print(f"exit {took:.2f} s after SIGTERM")  # shown with -rP: the measurement
        assert took <= EXIT_BOUND
        assert all(rpc.wait(c, timeout=10)["result"] == pid for c, pid in zip(calls, products,
                                                                              strict=True))
        with engine.connect() as conn:
            published = conn.execute(select(OUTBOX.c.published_at)).scalars().all()
        assert len(published) == CALLS and None not in published  # all out before the exit
        seen: list[dict] = []
        assert eventually(lambda: seen.extend(events()) or len(seen) >= CALLS, timeout=10)
        assert sorted(e["product_id"] for e in seen) == sorted(products)
    finally:
        engine.dispose()
        rpc.close()
