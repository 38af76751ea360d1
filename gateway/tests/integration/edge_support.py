"""Gateway processes (`python -m gateway`) that the edge tests start, configure and stop.

Each runs in its own session on a free port with the test's environment; `stop()` signals
only that process group, i.e. only what the test started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.suite import free_port

START_TIMEOUT = 60.0


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    verify: str | bool = True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.verify, **kwargs)  # type: ignore[arg-type]

    def metric(self, name: str, **labels: str) -> float | None:
        text = httpx.get(f"{self.url}/metrics", verify=self.verify, timeout=5).text
        return metric_value(text, name, **labels)


def metric_value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def wait_until(url: str, process: subprocess.Popen[bytes], log_path: Path,
               verify: str | bool, path: str, want: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}{path}", verify=verify, timeout=2).status_code == want:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gateway not ready:\n{log_path.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def running_gateway(env: dict[str, str], log_path: Path, *, tls: bool = False,
                    verify: str | bool = True, ready_path: str = "/healthz",
                    ready_status: int = 200,
                    **extra: str) -> Iterator[Gateway]:
    port = free_port()
    env = {**env, **extra, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port)}
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "gateway"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        wait_until(url, process, log_path, verify, ready_path, ready_status)
        yield Gateway(url, process, log_path, verify)
    finally:
        stop(process)


def fresh_window(margin: float = 20.0) -> None:
    """Sleep into the next one-minute rate-limit window if this one ends within `margin` s, so a
    budget is not reset halfway through a test."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.1)
