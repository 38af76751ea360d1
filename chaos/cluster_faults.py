"""The faults of cluster mode: the node that leads `rpc-payments` (asked of the cluster just
before) SIGKILLed, held down, restarted on its data; then a rolling restart (chaos.rolling)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from chaos.cluster import RabbitCluster
from chaos.nemesis import Fault

TARGET_QUEUE = "rpc-payments"
ALSO_REPORTED = "evt-payments-payment_succeeded--catalog.on_payment_succeeded"
NODE_HOLD = 3.0


def plan(faults: list[Fault]) -> list[Fault]:
    """The same plan, with the single-node broker kill aimed at a cluster node instead, then a
    rolling restart of every service replica."""
    return [*(Fault("node", hold=NODE_HOLD) if f.kind == "broker" else f for f in faults),
            Fault("rolling")]


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
