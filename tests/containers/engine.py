"""A private Docker engine for the container test: its own dockerd (root) with its own data
root, exec root, pidfile and socket, stopped by PID at the end. Clients reach it through
DOCKER_HOST only, so the machine's own Docker (if any) is never touched.

The data root is persistent (CONTAINERS_CACHE, default /var/cache/commerce-suite/containers):
it keeps the stand-in images between runs on one machine; everything else the test makes is
removed. One engine at a time per data root (an flock)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("CONTAINERS_CACHE", "/var/cache/commerce-suite/containers"))
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def docker_cli() -> str:
    """Debian's docker.io client (its built-in BuildKit needs no buildx plugin)."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).exists():
            return candidate
    raise AssertionError("no docker client: apt-get install -y docker.io")


@dataclass
class Engine:
    socket: Path
    log: Path

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self, **extra: str) -> dict[str, str]:
        """A clean client environment: nothing from the caller's shell leaks into compose."""
        return {"PATH": f"{Path(docker_cli()).parent}:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": os.environ.get("HOME", "/root"), "DOCKER_HOST": self.host, **extra}

    def run(self, *args: str, timeout: float = 600, check: bool = True, input: str | None = None,
            **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([docker_cli(), *args], env=self.env(**env), capture_output=True,
                                text=True, timeout=timeout, check=False, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def exists(self, image: str) -> bool:
        return self.run("image", "inspect", image, check=False).returncode == 0


def _wait_until_up(engine: Engine, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dockerd exited {process.returncode}:\n"
                                 f"{engine.log.read_text(errors='replace')[-4000:]}")
        if engine.run("version", check=False, timeout=10).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"dockerd not up in {START_TIMEOUT:g} s:\n"
                         f"{engine.log.read_text(errors='replace')[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def private_engine() -> Iterator[Engine]:
    dockerd = shutil.which("dockerd")
    assert dockerd, "no dockerd: apt-get install -y docker.io docker-compose"
    assert os.geteuid() == 0, "the container test starts its own dockerd: run it as root"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "engine.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # A short exec root: the socket path must fit in a sockaddr_un (108 bytes).
        run_dir = Path(tempfile.mkdtemp(prefix="suite-dockerd-"))
        engine = Engine(socket=run_dir / "docker.sock", log=run_dir / "dockerd.log")
        with engine.log.open("wb") as log:
            process = subprocess.Popen(
                [dockerd, "--data-root", str(CACHE / "docker"),
                 "--exec-root", str(run_dir / "exec"),
                 "--pidfile", str(run_dir / "dockerd.pid"), "-H", engine.host],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_until_up(engine, process)
            yield engine
        finally:
            _stop(process)
            shutil.rmtree(run_dir, ignore_errors=True)
