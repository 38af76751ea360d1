"""Start the whole suite exactly as `make run` does (deploy/local/run.py) and stop it cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.infra import ROOT

READY_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningSuite:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    web_url: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"suite exited early:\n{log_path.read_text()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"suite not ready in {READY_TIMEOUT} s:\n{log_path.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def running_suite(env: dict[str, str], log_path: Path) -> Iterator[RunningSuite]:
    """Run deploy/local/run.py with `env` on a free gateway port until the block ends."""
    port, web_port = free_port(), free_port()
    # The web front end's sessions: a Redis prefix of this run's own, short-lived.
    env = {"WEB_REDIS_PREFIX": f"test-web-{web_port}-{os.getpid()}:", "WEB_SESSION_TTL": "3600",
           "WEB_METRICS_PORT": "0", **env, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
           "WEB_PORT": str(web_port)}
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "deploy/local/run.py")], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, log_path)
        yield RunningSuite(url, process, log_path, f"http://127.0.0.1:{web_port}")
    finally:
        stop(process)
