"""`make chaos CHAOS_ARGS=--cluster`: the suite on a private 3-node cluster with quorum queues.

Each service runs REPLICAS processes, each replica through its own FaultyProxy to another node,
so losing one node leaves every service a replica on a live node. The gateway (one URL, one
node) sits on the node no payments replica uses: `rpc-payments`, declared by a payments replica,
is led by one of theirs. The node fault SIGKILLs the node that leads `rpc-payments` (asked of
the cluster just before), holds, then restarts it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from chaos.cluster import RabbitCluster
from chaos.infra import PrivateRabbit
from chaos.nemesis import Fault
from chaos.proxy import FaultyProxy

REPLICAS = 2
TARGET_QUEUE = "rpc-payments"
ALSO_REPORTED = "evt-payments-payment_succeeded--catalog.on_payment_succeeded"
NODE_HOLD = 3.0


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


def plan(faults: list[Fault]) -> list[Fault]:
    """The same plan, with the single-node broker kill aimed at a cluster node instead."""
    return [Fault("node", hold=NODE_HOLD) if f.kind == "broker" else f for f in faults]


def node_fault(cluster: RabbitCluster, hold: float = NODE_HOLD
               ) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def inflict() -> dict[str, Any]:
        return await kill_leader(cluster, hold)
    return inflict


async def kill_leader(cluster: RabbitCluster, hold: float) -> dict[str, Any]:
    leader = await asyncio.to_thread(cluster.leader, TARGET_QUEUE)
    also = await asyncio.to_thread(_leader_or_none, cluster, ALSO_REPORTED)
    node = cluster.by_name(leader)
    killed_at = time.time()
    await asyncio.to_thread(node.kill9)
    print(f"chaos: SIGKILL node {leader} (leads {TARGET_QUEUE}; {ALSO_REPORTED} led by "
          f"{also})", flush=True)
    await asyncio.sleep(hold)
    restart = await asyncio.to_thread(node.start)
    return {"node": leader, "leads": TARGET_QUEUE, "catalog_queue_leader": also,
            "killed_at": killed_at, "restart_s": round(restart, 2)}


def _leader_or_none(cluster: RabbitCluster, queue: str) -> str | None:
    try:
        return cluster.leader(queue)
    except LookupError:
        return None


def heal(cluster: RabbitCluster) -> None:
    """Restart any node that is down (a run interrupted mid-fault)."""
    for node in cluster.nodes:
        if node.process is None or node.process.poll() is not None:
            node.start()
