"""A private 3-node RabbitMQ cluster: three PrivateRabbit nodes, one Erlang cookie, joined with
`rabbitmqctl join_cluster`. Each node has its own name, AMQP and distribution ports and data dir;
every node is a child of this process in its own process group, signalled only by its PID.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

from chaos.infra import PrivateRabbit

SIZE = 3
CTL_TIMEOUT = 120


class RabbitCluster:
    def __init__(self, base: Path, size: int = SIZE) -> None:
        cookie = secrets.token_hex(16).upper()
        self.nodes = [PrivateRabbit(base, f"rabbit-{i + 1}") for i in range(size)]
        for node in self.nodes:
            # Nodes only cluster with the same cookie; rabbitmqctl reads it from HOME too.
            path = node.dir / ".erlang.cookie"
            path.write_text(cookie)
            os.chmod(path, 0o400)

    @property
    def first(self) -> PrivateRabbit:
        return self.nodes[0]

    @property
    def uris(self) -> list[str]:
        return [node.uri for node in self.nodes]

    def start(self) -> float:
        """Start every node, then join the others to the first; returns seconds."""
        took = sum(node.start() for node in self.nodes)
        for node in self.nodes[1:]:
            ctl(node, "stop_app")
            ctl(node, "join_cluster", self.first.node)
            ctl(node, "start_app")
        return took

    def running_nodes(self) -> list[str]:
        status = json.loads(ctl(self.first, "cluster_status", "--formatter", "json"))
        return sorted(status.get("running_nodes", []))

    def by_name(self, name: str) -> PrivateRabbit:
        return next(node for node in self.nodes if node.node == name)

    def leader(self, queue: str, vhost: str = "/", via: PrivateRabbit | None = None) -> str:
        """The node name that leads quorum queue `queue` (asked of `via`, else a live node)."""
        node = via or next(n for n in self.nodes if n.process and n.process.poll() is None)
        rows = json.loads(ctl(node, "list_queues", "-p", vhost, "name", "leader",
                              "--formatter", "json") or "[]")
        for row in rows:
            if row.get("name") == queue and row.get("leader"):
                return str(row["leader"])
        raise LookupError(f"no leader for {queue} on vhost {vhost}")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()


def ctl(node: PrivateRabbit, *args: str) -> str:
    env = node.ctl_env()
    result = subprocess.run([env["RABBITMQCTL"], "-q", *args], capture_output=True, text=True,
                            timeout=CTL_TIMEOUT, check=False,
                            env={**os.environ, **env})
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {args[0]} on {node.node}: {result.stderr.strip()}")
    return result.stdout
