"""Run a deployment's containers as local processes: exactly their commands and environment,
with only what a container would get from its surroundings put back on this machine.

What is replaced, and nothing else:
- the image: /app is this checkout, `python`/`nameko` are the .venv's, the Dockerfile's ENV is
  the base environment (nothing is inherited from the developer's shell);
- the hosts rabbitmq/postgres/redis become 127.0.0.1;
- the vhost `suite` becomes a throwaway vhost, and each AMQP user a throwaway user with the same
  password and the SAME permission regexes (deploy/rabbitmq/permissions.json), so the
  least-privilege rules are exercised for real;
- each service's database becomes a throwaway, EMPTY database that the deployment's own
  migration step must migrate (the local server trusts the `postgres` role);
- GATEWAY_HOST/GATEWAY_PORT become 127.0.0.1 and a free port, METRICS_HOST 127.0.0.1 (a
  container's 0.0.0.0 is its own network; here it would be the machine's).
Its own vhost and databases (not the session's): two suites on one vhost would share queues.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy.engine import make_url

from tests.deploy.support import dockerfile, local_argv
from tests.support import infra
from tests.support.suite import free_port

ROOT = infra.ROOT
PERMISSIONS = json.loads((ROOT / "deploy/rabbitmq/permissions.json").read_text())
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0


@dataclass
class Container:
    name: str
    argv: list[str]
    env: dict[str, str]


@dataclass
class Sandbox:
    """A throwaway vhost, AMQP users and empty databases; `close()` removes them all."""

    prefix: str = field(default_factory=lambda: infra.unique("deploy"))
    users: dict[str, str] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        infra.create_vhost(self.prefix)
        self.vhost = self.prefix

    def amqp_user(self, user: str, password: str) -> str:
        if user not in self.users:
            local = f"{self.prefix}_{user}"
            rules = PERMISSIONS["users"][user]
            _rabbitmqctl("add_user", local, password)
            _rabbitmqctl("set_permissions", "-p", self.vhost, local,
                         rules["configure"], rules["write"], rules["read"])
            for exchange, topic in rules.get("topic", {}).items():
                _rabbitmqctl("set_topic_permissions", "-p", self.vhost, local, exchange,
                             topic["write"], topic["read"])
            self.users[user] = local
        return self.users[user]

    def database(self, service: str) -> str:
        if service not in self.databases:
            self.databases[service] = infra.create_database(f"{self.prefix}_{service}")
        return self.databases[service]

    def localize(self, env: dict[str, str]) -> dict[str, str]:
        # The throwaway users are named otherwise than the components: every process must
        # know who is who on the bus (shared.messaging.identity).
        out = {**env, **{f"{name.upper()}_BUS_USER": f"{self.prefix}_{name}"
                         for name in PERMISSIONS["users"]}}
        for key, value in env.items():
            if key == "AMQP_URI":
                url = urlsplit(value)
                assert url.hostname == "rabbitmq" and url.path == "/suite", value
                assert url.username and url.password, "AMQP_URI names a user and a password"
                user = self.amqp_user(url.username, url.password)
                out[key] = (f"amqp://{user}:{quote(url.password, safe='')}@127.0.0.1:"
                            f"{url.port or 5672}/{self.vhost}")
            elif key.endswith("_DATABASE_URL"):
                service = key.removesuffix("_DATABASE_URL").lower()
                url = make_url(value)
                assert (url.host, url.database, url.username) == ("postgres", service, service), \
                    f"{key} should reach database {service} as role {service} on postgres"
                out[key] = self.database(service)
            elif key == "REDIS_URL":
                url = urlsplit(value)
                assert url.hostname == "redis", value
                out[key] = f"redis://127.0.0.1:{url.port or 6379}{url.path}"
            elif key in ("GATEWAY_HOST", "METRICS_HOST"):
                out[key] = "127.0.0.1"
            elif key == "GATEWAY_PORT":
                out[key] = str(self.port)
        return out

    def close(self) -> None:
        for local in self.users.values():
            with contextlib.suppress(Exception):
                _rabbitmqctl("delete_user", local)
        for service in self.databases:
            with contextlib.suppress(Exception):
                infra.drop_database(f"{self.prefix}_{service}")
        with contextlib.suppress(Exception):
            infra.delete_vhost(self.vhost)


def _rabbitmqctl(*args: str) -> str:
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def consumers(vhost: str, queue: str) -> int:
    out = _rabbitmqctl("list_queues", "-p", vhost, "name", "consumers")
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    return 0


def base_env(home: Path) -> dict[str, str]:
    """What the image gives every container: its ENV (PATH aside: the .venv's here)."""
    env = {k: v for k, v in dockerfile().env().items() if k != "PATH"}
    return {**env, "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home), "LANG": "C.UTF-8"}


class Launcher:
    """Local processes for containers; `close()` stops every one it started, whatever happened."""

    def __init__(self, sandbox: Sandbox, log_dir: Path) -> None:
        self.sandbox = sandbox
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def env(self, container: Container) -> dict[str, str]:
        return {**base_env(self.log_dir), **self.sandbox.localize(container.env)}

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def run_once(self, *containers: Container, timeout: float = 300.0) -> None:
        """Run one-shot containers side by side (as compose and Kubernetes would) to the end."""
        started = {c.name: self.start(c) for c in containers}
        deadline = time.monotonic() + timeout
        for name, process in started.items():
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{name} still running after {timeout:g} s") from None
            finally:
                self.stop(name)
            assert process.returncode == 0, f"{name} exited {process.returncode}:\n{self.log(name)}"

    def start(self, container: Container, name: str | None = None) -> subprocess.Popen[bytes]:
        name = name or container.name
        with (self.log_dir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(local_argv(container.argv), cwd=ROOT,
                                       env=self.env(container), stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def probe(self, argv: list[str], container: Container, timeout: float = 30.0
              ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(local_argv(argv), cwd=ROOT, env=self.env(container),
                              capture_output=True, text=True, timeout=timeout, check=False)

    def stop(self, *names: str) -> None:
        """SIGTERM them all (as a container runtime would), SIGKILL what outlives the grace."""
        processes = [self.processes.pop(name) for name in names]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def close(self) -> None:
        self.stop(*self.processes)

    def wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise AssertionError(f"{name} exited {process.returncode}:\n{self.log(name)}")
            with contextlib.suppress(httpx.HTTPError):
                reply = httpx.get(f"{url}/readyz", timeout=3)
                if reply.status_code == 200:
                    return
                last = reply.text
            time.sleep(0.5)
        logs = "\n".join(f"--- {n}\n{self.log(n)}" for n in self.processes)
        raise AssertionError(f"not ready in {READY_TIMEOUT:g} s: {last}\n{logs}")


@contextlib.contextmanager
def sandboxed(log_dir: Path) -> Iterator[Launcher]:
    sandbox = Sandbox()
    launcher = Launcher(sandbox, log_dir)
    try:
        yield launcher
    finally:
        launcher.close()
        sandbox.close()
