"""The suite on the private servers: prepare (databases, migrations, topology) as
deploy/local/prepare.py does, then the same commands as deploy/local/run.py under a supervisor
that restarts whatever dies. Each service reaches the broker through its own FaultyProxy; the
gateway and the run's own tools talk to the broker directly."""

from __future__ import annotations

import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from chaos import cluster_mode
from chaos.cluster import RabbitCluster
from chaos.infra import PrivatePostgres, PrivateRabbit
from chaos.procs import Supervisor, free_port, wait_for
from chaos.proxy import FaultyProxy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import broker_users  # noqa: E402
from prepare import SERVICES, prepare  # noqa: E402
from run import commands  # noqa: E402

ADMIN_EMAIL = "admin@chaos.test"
READY_TIMEOUT = 180.0


def base_env(rabbit: PrivateRabbit, pg: PrivatePostgres, gateway_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_DATABASE_URL") and k not in ("AMQP_URI", "REDIS_URL")}
    env.update({"AMQP_URI": rabbit.uri, "RATE_LIMIT_ENABLED": "false", "PYTHONUNBUFFERED": "1",
                "PYTHONWARNINGS": "ignore::Warning:nameko.cli.commands",
                "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": secrets.token_urlsafe(18),
                "METRICS_PORT": "0", "WEB_METRICS_PORT": "0", "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(gateway_port), "WEB_PORT": str(free_port()),
                # Nothing must reach the machine's shared Redis either.
                "REDIS_URL": "redis://127.0.0.1:1/0"})
    for service in SERVICES:
        env[f"{service.upper()}_DATABASE_URL"] = pg.server_url(service)
    return env


@dataclass
class Suite:
    env: dict[str, str]
    supervisor: Supervisor
    proxies: dict[str, FaultyProxy]
    url: str

    def ready(self, timeout: float = 2.0) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        return wait_for(self.ready, timeout, "suite ready (/readyz)", 0.3)

    def stop(self) -> None:
        self.supervisor.stop()
        for proxy in self.proxies.values():
            proxy.close()


def start_suite(rabbit: PrivateRabbit, pg: PrivatePostgres, logdir: Path,
                cluster: RabbitCluster | None = None) -> Suite:
    gateway_port = free_port()
    env = base_env(rabbit, pg, gateway_port)
    started = time.monotonic()
    # A broker user per component, as make run makes them, on the private node.
    broker_users.provision(env, rabbit.uri, rabbit.ctl_env())
    prepare(env)  # databases, migrations, the whole topology, on the private servers
    print(f"chaos: prepared databases and topology in {time.monotonic() - started:.1f} s",
          flush=True)
    procs = commands()
    if cluster is None:
        proxies = {s: FaultyProxy(s, rabbit.port) for s in SERVICES}
    else:  # replicas of every service, spread over the nodes
        procs = cluster_mode.add_replicas(procs, SERVICES)
        proxies = cluster_mode.proxies(cluster, SERVICES)
    for proxy in proxies.values():
        proxy.start()
    per_process = {name: dict(env) for name in procs}
    for name, proxy in proxies.items():
        own = env[f"{name.split('-')[0].upper()}_AMQP_URI"]
        per_process[name]["AMQP_URI"] = broker_users.with_port(own, proxy.port)
    if cluster is not None:
        gateway = per_process["gateway"]
        gateway["GATEWAY_AMQP_URI"] = broker_users.with_port(
            gateway["GATEWAY_AMQP_URI"], cluster_mode.gateway_node(cluster, SERVICES).port)
    supervisor = Supervisor(procs, per_process, logdir)
    supervisor.start()
    return Suite(env, supervisor, proxies, f"http://127.0.0.1:{gateway_port}")
