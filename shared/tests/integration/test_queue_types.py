"""BUS_QUEUE_TYPE on the real broker: each value declares its queue types, redeclares cleanly,
routes retries and dead letters, and nameko's own `rpc-<svc>` and the parked-request DLQ agree
with the topology (no PRECONDITION_FAILED). A fresh vhost per value: a queue cannot change type."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from amqp.exceptions import PreconditionFailed
from kombu import Connection, Exchange, Producer, Queue

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importlib mode: helpers beside us
from rpcprobe_support import RawRpc, running, take_parked

from shared.messaging import names, topology
from shared.messaging.queue_types import rpc_queue_arguments
from tests.support import infra

KINDS = ("classic", "quorum")


@pytest.fixture(params=KINDS)
def bus(request):
    name = infra.unique("qtype")
    uri = infra.create_vhost(name)
    try:
        yield request.param, name, uri
    finally:
        infra.delete_vhost(name)


def queue_types(vhost: str) -> dict[str, str]:
    listed = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "type",
                             "--formatter", "json"], capture_output=True, text=True, timeout=60,
                            check=True).stdout
    return {row["name"]: row["type"] for row in json.loads(listed or "[]")}


def test_topology_declares_the_durable_queues_as_the_bus_queue_type(bus):
    kind, vhost, uri = bus
    with Connection(uri) as conn:
        topology.declare_topology(conn, kind)
        topology.declare_topology(conn, kind)  # every service redeclares it at startup
    types = queue_types(vhost)
    for sub in topology.subscriptions():
        assert types[sub.queue] == "quorum"  # handler queues: quorum in both modes
        assert types[names.retry_queue(sub.queue)] == kind
    for dlq in topology.dead_letter_queues():
        assert types[dlq] == kind


def test_retry_queue_hands_an_expired_message_back(bus):
    kind, _, uri = bus
    sub = topology.SUBSCRIPTIONS[1]
    with Connection(uri) as conn:
        topology.declare_topology(conn, kind)
        channel = conn.channel()
        Producer(channel).publish(b"{}", exchange=names.RETRY_EXCHANGE, routing_key=sub.queue,
                                  expiration=0.05)
        queue = Queue(sub.queue, Exchange(sub.exchange, type="topic"),
                      queue_arguments=topology.handler_queue_arguments(sub.queue)).bind(channel)
        message = None
        deadline = time.monotonic() + 30
        while message is None and time.monotonic() < deadline:
            message = queue.get(no_ack=True)
            time.sleep(0.05)
        channel.close()
    assert message is not None and message.body == b"{}"


def test_a_classic_topology_is_not_redeclared_as_quorum_in_place():
    """Why the switch needs the migration of docs/operations.md."""
    name = infra.unique("qtype")
    uri = infra.create_vhost(name)
    try:
        with Connection(uri) as conn:
            topology.declare_topology(conn, "classic")
            with pytest.raises(PreconditionFailed):
                topology.declare_topology(conn, "quorum")
    finally:
        infra.delete_vhost(name)


def test_nameko_rpc_queue_and_parking_agree_with_the_topology(bus, suite_env, tmp_path):
    kind, vhost, uri = bus
    with Connection(uri) as conn:
        topology.declare_topology(conn, kind)
    env = {**suite_env, "AMQP_URI": uri, "BUS_QUEUE_TYPE": kind,
           "RPCPROBE_LEDGER": str(tmp_path / "ledger")}
    rpc = RawRpc(uri)
    try:
        with running(env, tmp_path / "rpcprobe.log", rpc, ("rpcprobe_service:ProbeService",)):
            assert rpc.call("rpcprobe", "add", 2, 3) == 5
            parked = rpc.send("rpcprobe.add", b'{"args": [1', content_type="application/json")
            assert rpc.wait(parked)["error"]["exc_type"] == "BadRequest"  # answered once parked
            properties, _ = take_parked(rpc, "rpc-rpcprobe.dlq", parked)
            assert properties.correlation_id == parked
            assert rpc.call("rpcprobe", "add", 1, 1) == 2
        with Connection(uri) as conn:  # nameko's declaration is the one the topology names
            Queue("rpc-rpcprobe", Exchange(names.RPC_EXCHANGE, type="topic", durable=True),
                  routing_key="rpcprobe.*", durable=True,
                  queue_arguments=rpc_queue_arguments(kind)).bind(conn.channel()).declare()
    finally:
        rpc.close()
    types = queue_types(vhost)
    assert (types["rpc-rpcprobe"], types["rpc-rpcprobe.dlq"]) == (kind, kind)
