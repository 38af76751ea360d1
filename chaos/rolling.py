"""The rolling restart of cluster mode: every service replica in turn gets SIGTERM (a graceful
stop), the supervisor starts it again, and the next one goes only once its service has all its
replicas consuming `rpc-<svc>` again, as a deployment's rolling update would wait for readiness.
"""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

from chaos.cluster import RabbitCluster, ctl
from chaos.procs import wait_for
from chaos.suite import Suite
from shared.messaging import names

BACK_TIMEOUT = 90.0


def rpc_consumers(cluster: RabbitCluster) -> dict[str, int]:
    node = next(n for n in cluster.nodes if n.process and n.process.poll() is None)
    rows = json.loads(ctl(node, "list_queues", "name", "consumers", "--formatter", "json") or "[]")
    return {row["name"]: int(row["consumers"]) for row in rows}


def restart_fault(suite: Suite, cluster: RabbitCluster, replicas: list[str], per_service: int
                  ) -> Any:
    async def inflict() -> dict[str, Any]:
        for name in replicas:
            await asyncio.to_thread(_restart, suite, cluster, name, per_service)
        return {"killed": replicas}
    return inflict


def _restart(suite: Suite, cluster: RabbitCluster, name: str, per_service: int) -> None:
    queue = names.rpc_queue(name.split("-")[0])
    old = suite.supervisor.kill(name, signal.SIGTERM)
    wait_for(lambda: suite.supervisor.pid(name) != old, BACK_TIMEOUT, f"{name} restarted", 0.2)
    wait_for(lambda: rpc_consumers(cluster).get(queue, 0) >= per_service, BACK_TIMEOUT,
             f"{queue} served by {per_service} replicas again", 0.5)
    print(f"chaos: rolling restart: {name} back", flush=True)

