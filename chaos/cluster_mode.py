"""`make chaos CHAOS_ARGS=--cluster`: the suite on a private 3-node cluster with quorum queues.

Each service runs REPLICAS processes, each replica through its own FaultyProxy to another node,
so losing one node leaves every service a replica on a live node. The gateway (one URL, one
node) sits on the node no payments replica uses: `rpc-payments`, declared by a payments replica,
is led by one of theirs. Its faults: chaos.cluster_faults.
"""

from __future__ import annotations

import os

from chaos.cluster import RabbitCluster
from chaos.infra import PrivateRabbit
from chaos.proxy import FaultyProxy

REPLICAS = 2
# --short in cluster mode: the node fault (with the restart of a node) must start early enough
# for the rolling restart after it to start before the end (it runs on past it, as every fault).
SHORT_DURATION = 90.0


def use_quorum_queues() -> None:
    # Read by prepare's declarations here and inherited by every child process.
    os.environ["BUS_QUEUE_TYPE"] = "quorum"


def replica_name(service: str, index: int) -> str:
    return service if index == 0 else f"{service}-{index + 1}"


def node_port(cluster: RabbitCluster, service_index: int, replica: int) -> int:
    """Replicas of one service on different nodes; services spread over the nodes."""
    return cluster.nodes[(service_index + replica) % len(cluster.nodes)].port


def gateway_node(cluster: RabbitCluster, services: tuple[str, ...]) -> PrivateRabbit:
    used = {node_port(cluster, services.index("payments"), r) for r in range(REPLICAS)}
    return next(node for node in cluster.nodes if node.port not in used)


def add_replicas(commands: dict[str, list[str]], services: tuple[str, ...],
                 replicas: int = REPLICAS) -> dict[str, list[str]]:
    extra = {replica_name(s, i): commands[s] for s in services for i in range(1, replicas)}
    return {**commands, **extra}


def proxies(cluster: RabbitCluster, services: tuple[str, ...],
            replicas: int = REPLICAS) -> dict[str, FaultyProxy]:
    return {replica_name(s, r): FaultyProxy(replica_name(s, r), node_port(cluster, i, r))
            for i, s in enumerate(services) for r in range(replicas)}
