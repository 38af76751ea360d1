"""Reading the deployment files the way Docker, docker compose and kubectl would, without them.

- `compose_config()`: `docker-compose config` with an env file `make env` would write (installs
  Debian's docker-compose when it is missing).
- `kustomize(overlay)`: `kubectl kustomize` output as a list of objects.
- `dockerfile()`: the runtime stage's ENV, WORKDIR, COPY sources; `dockerignored(path)`.
- `run_py_commands()`: what deploy/local/run.py and prepare.py run, from a subprocess so this
  process never imports run.py (it edits sys.path).
- `metrics_port(service, env)`: the port a service serves /metrics on with that environment
  (shared.nameko.metrics' rule, read from its source: importing it would import eventlet).
"""

from __future__ import annotations

import ast
import base64
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.infra import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_ENV_EXAMPLE = ROOT / "deploy/env/compose.env.example"
K8S = ROOT / "deploy/k8s"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
SERVICES = ("auth", "catalog", "payments")
APP_COMPONENTS = (*SERVICES, "gateway")
IMAGE_WORKDIR = "/app"


def docker_compose() -> str:
    """Debian's docker-compose (v1): installed here with apt when missing; the test skips,
    loudly, only where apt cannot be used."""
    found = shutil.which("docker-compose")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("DEPLOY CHECK NOT RUN: docker-compose is missing and apt-get is unavailable "
                    "(needs root); install Debian's docker-compose package to validate the file")
    # One installer at a time across the pytest processes sharing this machine.
    with open("/tmp/commerce-suite-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not shutil.which("docker-compose"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for argv in (["apt-get", "update", "-qq"],
                         ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                          "docker-compose"]):
                result = subprocess.run([argv[0], "-o", "DPkg::Lock::Timeout=300", *argv[1:]],
                                        env=env, capture_output=True, text=True, timeout=900,
                                        check=False)
                assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stderr[-3000:]}"
    found = shutil.which("docker-compose")
    assert found, "apt installed docker-compose but it is not on PATH"
    return found


@cache
def generated_compose_env() -> Path:
    """A fresh env file as `make env` writes it (the example's placeholders cannot run: auth
    refuses the placeholder signing key)."""
    path = Path(tempfile.mkdtemp(prefix="compose-env-")) / "compose.env"
    subprocess.run([sys.executable, str(ROOT / "deploy/env/generate.py"), "--out", str(path)],
                   check=True, capture_output=True, timeout=60)
    return path


def compose(*args: str, env_file: Path | str | None = "generated"
            ) -> subprocess.CompletedProcess[str]:
    if env_file == "generated":
        env_file = generated_compose_env()
    argv = [docker_compose(), "-f", str(COMPOSE_FILE)]
    if env_file is not None:
        argv += ["--env-file", str(env_file)]
    # A clean environment: nothing from the developer's shell may fill in a variable.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run([*argv, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@cache
def compose_config() -> dict[str, Any]:
    result = compose("config")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]


DEV_SECRETS = K8S / "overlays/dev/secrets"


def ensure_dev_secrets() -> None:
    """The dev overlay's Secret env files are generated, never committed: make them (gitignored)
    the way its README says when they are missing, one pytest process at a time."""
    with open("/tmp/commerce-suite-dev-secrets.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (DEV_SECRETS / "auth.env").exists():
            subprocess.run([sys.executable, str(ROOT / "deploy/env/generate.py"), "--k8s-dev",
                            str(DEV_SECRETS)], check=True, capture_output=True, timeout=60)


@cache
def _kustomize(overlay: str) -> str:
    if overlay == "dev":
        ensure_dev_secrets()
    result = subprocess.run([KUBECTL, "kustomize", str(K8S / "overlays" / overlay)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    return result.stdout


def kustomize(overlay: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(_kustomize(overlay)) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def generated(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """A generated ConfigMap/Secret by its generator name (kustomize adds `-<content hash>`)."""
    pattern = re.compile(re.escape(name) + r"-[a-z0-9]{10}")
    found = [o for o in objects
             if o["kind"] == kind and pattern.fullmatch(o["metadata"]["name"])]
    assert len(found) == 1, f"expected one generated {kind}/{name}, found {len(found)}"
    return found[0]


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


@dataclass
class Dockerfile:
    preamble: list[tuple[str, str]] = field(default_factory=list)  # the ARGs before any FROM
    stages: list[list[tuple[str, str]]] = field(default_factory=list)  # (instruction, args)

    @property
    def runtime(self) -> list[tuple[str, str]]:
        return self.stages[-1]

    def env(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for instruction, args in self.runtime:
            if instruction == "ENV":
                key, _, value = args.partition("=")
                found[key.strip()] = value.strip()
        return found

    def all(self, instruction: str) -> list[str]:
        return [args for stage in [self.preamble, *self.stages] for ins, args in stage
                if ins == instruction]


def dockerfile(path: Path = ROOT / "deploy/Dockerfile") -> Dockerfile:
    """Instructions with continuations joined (heredoc bodies are kept with their RUN)."""
    parsed = Dockerfile()
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines).strip()
        heredoc = re.search(r"<<'?(\w+)'?", line)
        if heredoc and line.split()[0] == "RUN":
            body = []
            for more in lines:
                if more.strip() == heredoc.group(1):
                    break
                body.append(more)
            line += "\n" + "\n".join(body)
        instruction, _, args = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            parsed.stages.append([])
        (parsed.stages[-1] if parsed.stages else parsed.preamble).append(
            (instruction.upper(), args.strip()))
    return parsed


def _pattern(pattern: str) -> re.Pattern[str]:
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex)


@cache
def _dockerignore() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _pattern(line.lstrip("!").strip("/"))))
    return tuple(rules)


def dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in _dockerignore():
        if any(regex.fullmatch(p) for p in prefixes):
            excluded = not negated
    return excluded


_RUN_PY_PROBE = """
import json, sys, types
sys.path.insert(0, "deploy/local")
import prepare, run
calls = []
prepare.subprocess = types.SimpleNamespace(
    run=lambda argv, **kw: calls.append(argv) or types.SimpleNamespace(returncode=0, stderr=""))
for service in prepare.SERVICES:
    prepare.migrate(service, {})
print(json.dumps({"run": run.commands(), "migrate": dict(zip(prepare.SERVICES, calls))}))
"""


@cache
def run_py_commands() -> dict[str, dict[str, list[str]]]:
    """{"run": {component: argv}, "migrate": {service: argv}}, as deploy/local runs them."""
    result = subprocess.run([sys.executable, "-c", _RUN_PY_PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def local_argv(argv: list[str]) -> list[str]:
    """An image command as it runs from this checkout: /app is the repository root, `python`
    and the console scripts are the .venv's."""
    bin_dir = Path(sys.executable).parent
    out = []
    for i, arg in enumerate(argv):
        if i == 0 and arg == "python":
            out.append(sys.executable)
        elif i == 0 and (bin_dir / arg).exists():
            out.append(str(bin_dir / arg))
        elif arg.startswith(IMAGE_WORKDIR + "/"):
            out.append(str(ROOT / arg[len(IMAGE_WORKDIR) + 1:]))
        elif "/" in arg and not arg.startswith("-") and (ROOT / arg).exists():
            out.append(str(ROOT / arg))
        else:
            out.append(arg)
    return out


@cache
def _default_metrics_ports() -> dict[str, int]:
    source = (ROOT / "shared/shared/nameko/metrics.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
                "DEFAULT_PORTS"]:
            return ast.literal_eval(node.value)  # type: ignore[no-any-return]
    raise AssertionError("shared/shared/nameko/metrics.py no longer defines DEFAULT_PORTS")


def metrics_port(service: str, env: dict[str, str]) -> int | None:
    """`<SERVICE>_METRICS_PORT`, else METRICS_PORT, else the service's default; None: off."""
    raw = env.get(f"{service.upper()}_METRICS_PORT", env.get("METRICS_PORT"))
    if raw is None:
        return _default_metrics_ports().get(service)
    return int(raw) if raw.strip() not in ("", "0") else None
