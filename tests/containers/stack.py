"""The project image and the compose project as the container test drives them: docker-compose
(v1, Debian's) with docker-compose.yml unchanged and a freshly generated env file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.containers.engine import Engine
from tests.support.infra import ROOT
from tests.support.suite import free_port

PROJECT = "suitecontainertest"
# Brought up with the rest in one session: Prometheus, Grafana, Jaeger, exporters (stand-ins).
PROFILE = "observability"
HEALTHY_TIMEOUT = 420.0
ONE_SHOTS = ("rabbitmq-setup", "migrate-auth", "migrate-catalog", "migrate-payments")


@dataclass
class Built:
    tag: str
    seconds: float
    megabytes: int


def build_image(engine: Engine, tag: str, buildkit: bool) -> Built:
    started = time.monotonic()
    engine.run("build", "--force-rm", "-f", "deploy/Dockerfile", "-t", tag, str(ROOT), timeout=1200,
               DOCKER_BUILDKIT="1" if buildkit else "0")
    seconds = round(time.monotonic() - started, 1)
    size = int(engine.run("image", "inspect", "-f", "{{.Size}}", tag).stdout)
    return Built(tag, seconds, round(size / 1e6))


class Stack:
    def __init__(self, engine: Engine, workdir: Path) -> None:
        self.engine = engine
        self.port = free_port()
        self.env_file = workdir / "compose.env"
        subprocess.run([sys.executable, str(ROOT / "deploy/env/generate.py"), "--out",
                        str(self.env_file)], check=True, capture_output=True, timeout=60)
        self.published = {name: free_port() for name in ("PROMETHEUS", "GRAFANA", "JAEGER")}
        with self.env_file.open("a") as env:
            env.write(f"GATEWAY_PUBLISH=127.0.0.1:{self.port}\n"
                      f"WEB_PUBLISH=127.0.0.1:{free_port()}\n"
                      "OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318\n")
            env.writelines(f"{name}_PUBLISH={port}\n" for name, port in self.published.items())
        self.env = dict(line.split("=", 1) for line in self.env_file.read_text().splitlines()
                        if line and not line.startswith("#"))
        self.url = f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, timeout: float = 600, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
        argv = [shutil.which("docker-compose") or "docker-compose", "-p", PROJECT,
                "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(self.env_file),
                "--profile", PROFILE, *args]
        result = subprocess.run(argv, cwd=ROOT, env=self.engine.env(), capture_output=True,
                                text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
        return result

    def containers(self, service: str | None = None) -> list[str]:
        filters = ["--filter", f"label=com.docker.compose.project={PROJECT}"]
        if service:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        out = self.engine.run("ps", "-aq", "--no-trunc", *filters).stdout
        return out.split()

    def inspect(self, *ids: str) -> list[dict[str, Any]]:
        if not ids:
            return []
        return json.loads(self.engine.run("inspect", *ids).stdout)  # type: ignore[no-any-return]

    def states(self) -> dict[str, str]:
        """{container name: 'healthy' | 'exited 0' | 'running' (no healthcheck) | ...}"""
        found = {}
        for info in self.inspect(*self.containers()):
            state = info["State"]
            health = (state.get("Health") or {}).get("Status")
            if state["Status"] == "exited":
                found[info["Name"].lstrip("/")] = f"exited {state['ExitCode']}"
            else:
                found[info["Name"].lstrip("/")] = health or state["Status"]
        return found

    def wait_healthy(self, timeout: float = HEALTHY_TIMEOUT, expect: int | None = None) -> float:
        started = time.monotonic()
        states: dict[str, str] = {}
        while time.monotonic() - started < timeout:
            states = self.states()
            done = all(s in ("healthy", "exited 0", "running") for s in states.values())
            failed = [n for n, s in states.items() if s.startswith("exited") and s != "exited 0"]
            assert not failed, f"one-shot container(s) failed: {failed}: {states}"
            if done and states and (expect is None or len(states) == expect):
                return round(time.monotonic() - started, 1)
            time.sleep(1)
        raise AssertionError(f"not healthy in {timeout:g} s: {states}")

    def up(self) -> float:
        started = time.monotonic()
        self.compose("up", "-d", "--no-build")
        self.wait_healthy()
        return round(time.monotonic() - started, 1)

    def one(self, service: str) -> str:
        found = self.inspect(*self.containers(service))
        ids = [str(i["Id"]) for i in found if i["State"]["Running"]]
        assert len(ids) == 1, f"{service}: {len(ids)} running containers"
        return ids[0]

    def exec(self, service: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.engine.run("exec", self.one(service), *argv, timeout=120)

    def logs(self) -> str:
        result = self.compose("logs", "--no-color", "--timestamps", "--tail", "300",
                              timeout=120, check=False)
        states = json.dumps(self.states(), indent=1) if self.containers() else "{}"
        return f"container states: {states}\n{result.stdout}\n{result.stderr[-2000:]}"

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False)
