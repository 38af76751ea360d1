"""The private 3-node cluster of `make chaos CHAOS_ARGS=--cluster`: it forms, and a quorum queue
keeps every confirmed message and is served by the other nodes when its leader is SIGKILLed."""

from __future__ import annotations

import time

from kombu import Connection, Exchange, Producer, Queue

from chaos.cluster import RabbitCluster
from chaos.procs import wait_for
from shared.messaging import names
from shared.messaging.queue_types import rpc_queue_arguments

QUEUE = names.rpc_queue("payments")
COUNT = 20


def rpc_payments(channel: object) -> Queue:
    return Queue(QUEUE, Exchange(names.RPC_EXCHANGE, type="topic", durable=True),
                 routing_key="payments.*", durable=True,
                 queue_arguments=rpc_queue_arguments("quorum")).bind(channel)


def drain(uri: str, want: int, timeout: float = 60.0) -> list[bytes]:
    """Every message of QUEUE through the node at `uri`, retrying while leadership moves."""
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        try:
            with Connection(uri, connect_timeout=3) as conn:
                queue = rpc_payments(conn.channel())
                while (message := queue.get()) is not None:
                    got.append(message.body)
                    message.ack()
        except Exception:  # the survivors are still electing a new leader
            time.sleep(0.2)
        time.sleep(0.1)
    return got


def test_a_quorum_queue_is_served_after_its_leader_node_is_killed(tmp_path):
    cluster = RabbitCluster(tmp_path)
    try:
        cluster.start()
        assert len(cluster.running_nodes()) == 3
        sent = [f"request-{i}".encode() for i in range(COUNT)]
        with Connection(cluster.first.uri, transport_options={"confirm_publish": True}) as conn:
            channel = conn.channel()
            rpc_payments(channel).declare()
            for body in sent:  # each confirmed by a majority of the nodes
                Producer(channel).publish(body, exchange=names.RPC_EXCHANGE,
                                          routing_key="payments.pay", delivery_mode=2)
        leader = cluster.by_name(cluster.leader(QUEUE))
        leader.kill9()
        survivor = next(node for node in cluster.nodes if node is not leader)

        assert sorted(drain(survivor.uri, COUNT)) == sorted(sent)
        assert cluster.leader(QUEUE, via=survivor) != leader.node

        leader.start()  # back on its own data, into the cluster
        wait_for(lambda: len(cluster.running_nodes()) == 3, 60, "the node rejoins")
    finally:
        cluster.stop()
