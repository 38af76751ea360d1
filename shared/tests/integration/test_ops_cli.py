"""`suite-ops` against a real broker and databases, run as operators run it (a subprocess).

The module works in a vhost of its own, so queue depths are exactly what these tests put there.
DLQ content is made by the code the services use (`shared.nameko.parking.park`), and the last
test lets the real catalog service park and answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika
import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importlib mode: helpers beside us
from rpcprobe_support import CATALOG, RawRpc, running

from shared.messaging import names, topology
from shared.messaging.outbox import record_event
from shared.messaging.tables import OUTBOX
from shared.nameko.parking import park
from tests.support import infra

RPC_CATALOG, DLQ = "rpc-catalog", "rpc-catalog.dlq"
SUITE_OPS = Path(sys.executable).parent / "suite-ops"


@pytest.fixture(scope="module")
def vhost():
    name = infra.unique("ops")
    uri = infra.create_vhost(name)
    try:
        yield uri
    finally:
        infra.delete_vhost(name)


@pytest.fixture(scope="module")
def outbox_db():
    """A database with only an outbox table: the lag the CLI reports is ours alone."""
    name = infra.unique("ops_outbox")
    url = infra.create_database(name)
    engine = create_engine(url)
    OUTBOX.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        infra.drop_database(name)


@pytest.fixture
def env(suite_env, vhost, outbox_db):
    return {**suite_env, "AMQP_URI": vhost,
            "CATALOG_DATABASE_URL": outbox_db.url.render_as_string(hide_password=False)}


@pytest.fixture
def broker(vhost):
    """The catalog's RPC queue as nameko declares it, an empty DLQ, and a pika channel."""
    connection = pika.BlockingConnection(pika.URLParameters(vhost))
    channel = connection.channel()
    with Connection(vhost) as conn:
        topology.declare_topology(conn)
    channel.exchange_declare("nameko-rpc", "topic", durable=True)
    channel.queue_declare(RPC_CATALOG, durable=True)
    channel.queue_bind(RPC_CATALOG, "nameko-rpc", "catalog.*")
    for queue in (RPC_CATALOG, DLQ):
        channel.queue_purge(queue)
    yield channel
    connection.close()


def ops(env, *args):
    return subprocess.run([sys.executable, "-m", "shared.ops", *args], env=env, text=True,
                          capture_output=True, timeout=60, check=False)


def park_requests(uri, bodies):
    """Send RPC requests to catalog and park them exactly as its safe entrypoint would."""
    ids = []
    with Connection(uri) as conn:
        queue = Queue(RPC_CATALOG, Exchange("nameko-rpc", "topic", durable=True), "catalog.*",
                      durable=True)(conn.default_channel)
        for i, body in enumerate(bodies):
            ids.append(f"corr-{i}")
            conn.default_channel.basic_publish(conn.default_channel.prepare_message(
                body, content_type=None, properties={"correlation_id": ids[-1],
                                                     "reply_to": "nobody-listens"},
                headers={"nameko.request_id": f"req-{i}"}), "nameko-rpc", "catalog.get_product")
        for _ in bodies:
            message = None
            while message is None:
                message = queue.get(no_ack=False)
            park(uri, RPC_CATALOG, message, "the request has no content_type")
            message.ack()
    return ids


def depth(channel, queue):
    return channel.queue_declare(queue, passive=True).method.message_count


def listed(env, *args):
    result = ops(env, "dlq", "list", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_status_reports_every_suite_queue_and_each_services_outbox_lag(env, broker, outbox_db):
    broker.basic_publish("nameko-rpc", "catalog.ping", b"{}")
    consumer = broker.connection.channel()
    consumer.basic_consume(names.dead_letter_queue(RPC_CATALOG), lambda *a: None)
    with Session(outbox_db) as session, session.begin():
        record_event(session, OUTBOX, "catalog", "product_deleted",
                     {"product_id": str(uuid.uuid4())})
    result = ops({**env, "PAYMENTS_DATABASE_URL": env["CATALOG_DATABASE_URL"] + "_missing"},
                 "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    queues = {row["queue"]: row for row in status["queues"]}
    # The CLI is its own process: it knows the suite's subscriptions, not the test-only ones
    # other test modules in this process may have registered with topology.register().
    suite_queues = {sub.queue for sub in topology.SUBSCRIPTIONS}
    suite_rpc = set(topology.rpc_queues())
    expected_dlqs = {names.dead_letter_queue(q) for q in suite_queues | suite_rpc}
    assert set(queues) >= suite_queues | expected_dlqs
    assert set(queues) >= {"rpc-auth", "rpc-catalog", "rpc-payments"}
    assert queues[RPC_CATALOG]["messages"] == 1
    assert queues[DLQ]["consumers"] == 1
    assert queues["rpc-auth"]["exists"] is False  # nameko declares it: no auth ran here
    outbox = {row["service"]: row for row in status["outbox"]}
    assert outbox["catalog"]["pending"] == 1 and outbox["catalog"]["oldest_age_seconds"] >= 0
    assert outbox["auth"]["error"] is None
    assert outbox["payments"]["error"] == "OperationalError"  # reported, not fatal
    assert "_missing" not in result.stdout  # no URL (it may hold a password) in the output
    text = ops(env, "status")
    assert text.returncode == 0
    assert any(line.split()[:2] == [RPC_CATALOG, "1"] for line in text.stdout.splitlines())
    consumer.close()


def test_list_peeks_without_losing_or_reordering(env, broker, vhost):
    ids = park_requests(vhost, [b"first", b"second", b"third"])
    first = listed(env, RPC_CATALOG)
    assert [row["id"] for row in first] == ids
    assert listed(env, DLQ) == first  # twice: nothing lost, nothing reordered
    assert depth(broker, DLQ) == 3
    row = first[1]
    assert row["body"] == "second" and row["exchange"] == "nameko-rpc"
    assert row["routing_key"] == "catalog.get_product"
    assert "no content_type" in row["error"] and row["parked_at"].endswith("Z")
    assert ids == [row["id"] for row in listed(env)]  # no QUEUE: every DLQ
    text = ops(env, "dlq", "list", RPC_CATALOG)
    assert text.returncode == 0 and all(i in text.stdout for i in ids)


def test_replay_by_id_puts_one_back_on_its_route_and_keeps_the_rest_in_order(env, broker, vhost):
    ids = park_requests(vhost, [b"first", b"second", b"third"])
    result = ops(env, "dlq", "replay", "--id", ids[1], RPC_CATALOG, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["replayed"][0]["id"] == ids[1]
    _, properties, body = broker.basic_get(RPC_CATALOG, auto_ack=True)
    assert body == b"second" and properties.correlation_id == ids[1]
    assert properties.reply_to == "nobody-listens" and properties.content_type is None
    assert properties.headers == {"nameko.request_id": "req-1"}  # PARKED_* are gone
    assert [row["id"] for row in listed(env, RPC_CATALOG)] == [ids[0], ids[2]]


def test_replay_all_empties_the_dlq_into_the_original_queue(env, broker, vhost):
    park_requests(vhost, [b"a", b"b"])
    result = ops(env, "dlq", "replay", "--all", RPC_CATALOG)
    assert result.returncode == 0, result.stderr
    assert "replayed 2 message(s)" in result.stdout
    assert depth(broker, DLQ) == 0 and depth(broker, RPC_CATALOG) == 2


def test_purge_needs_yes_and_then_empties_the_dlq(env, broker, vhost):
    park_requests(vhost, [b"a", b"b"])
    refused = ops(env, "dlq", "purge", RPC_CATALOG)
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "--yes" in refused.stderr
    assert depth(broker, DLQ) == 2
    purged = ops(env, "dlq", "purge", RPC_CATALOG, "--yes", "--json")
    assert purged.returncode == 0 and json.loads(purged.stdout) == {"purged": {DLQ: 2}}
    assert depth(broker, DLQ) == 0


@pytest.mark.parametrize("args", [
    ("dlq", "list", "no-such-queue"),
    ("dlq", "replay", "--all", "rpc-nobody"),
    ("dlq", "replay", RPC_CATALOG),  # neither --id nor --all
    ("dlq", "replay", "--id", "x", "--all"),
    ("dlq", "replay", "--id", "no-such-id", RPC_CATALOG),
    ("dlq", "purge", "no-such-queue", "--yes"),
    ("frobnicate",),
])
def test_bad_input_is_refused_in_one_line_and_changes_nothing(env, broker, vhost, args):
    park_requests(vhost, [b"kept"])
    result = ops(env, *args)
    assert result.returncode == 2
    assert result.stderr.startswith("suite-ops: ") and result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert depth(broker, DLQ) == 1 and depth(broker, RPC_CATALOG) == 0


def test_an_unreachable_broker_is_one_line_and_exit_1(env):
    result = ops({**env, "AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}, "status")
    assert result.returncode == 1 and result.stderr.count("\n") == 1


def test_the_console_script_is_installed(env, broker):
    result = subprocess.run([str(SUITE_OPS), "dlq", "list", "--json"], env=env, text=True,
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_round_trip_with_the_catalog_service(env, broker, vhost, tmp_path):
    rpc = RawRpc(vhost)
    try:
        with running(env, tmp_path / "catalog.log", rpc, (CATALOG,)) as catalog:
            correlation_id = rpc.send("catalog.get_product", b'{"args": ["x"]', content_type=None)
            assert rpc.wait(correlation_id)["error"]["exc_type"] == "BadRequest"
            [row] = listed(env, RPC_CATALOG)
            assert row["id"] == correlation_id and row["routing_key"] == "catalog.get_product"
            replay = ops(env, "dlq", "replay", "--id", correlation_id)
            assert replay.returncode == 0, replay.stderr
            # The catalog gets it again, answers again and parks it again: still malformed.
            assert rpc.call("catalog", "ping", timeout=30)["status"] == "ok"
            deadline = time.monotonic() + 30
            while len(rpc.replies[correlation_id]) < 2 and time.monotonic() < deadline:
                rpc.pump(0.2)
            assert len(rpc.replies[correlation_id]) == 2
            assert [r["id"] for r in listed(env, RPC_CATALOG)] == [correlation_id]
            assert catalog.alive()
    finally:
        rpc.close()
