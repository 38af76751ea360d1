"""Fixtures for the RpcClient tests: the probe nameko service (probe/probe_service.py) run as
a `nameko run` subprocess, the way `make run` runs the real services."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from gateway.rpc import RpcClient
from shared.errors import SuiteError

PROBE_DIR = Path(__file__).resolve().parent / "probe"
NAMEKO = Path(sys.executable).parent / "nameko"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class ProbeProcess:
    def __init__(self, env: dict[str, str], log_path: Path, name: str = "probe") -> None:
        self.env = {**env, "PROBE_NAME": name}
        # The probe is a test-only service on the tests' own broker user: callers (this
        # process's RpcClients) believe its replies only when told who it is.
        os.environ[f"{name.upper()}_BUS_USER"] = str(
            pika.URLParameters(self.env["AMQP_URI"]).credentials.username)
        self.log_path = log_path
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(NAMEKO), "run", "--config", str(PROBE_DIR / "config.yaml"),
                 "probe_service:ProbeService"],
                cwd=PROBE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        asyncio.run(self._wait_ready())

    async def _wait_ready(self) -> None:
        client = RpcClient(self.env["AMQP_URI"], timeout=2.0)
        await client.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"probe service exited:\n{self.log()[-3000:]}")
                with contextlib.suppress(SuiteError):
                    await client.call(self.name, "ping")
                    return
                await asyncio.sleep(0.2)
            raise RuntimeError(f"probe service not answering:\n{self.log()[-3000:]}")
        finally:
            await client.stop()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def running_probe(env: dict[str, str], log_path: Path, name: str = "probe"
                  ) -> Iterator[ProbeProcess]:
    probe = ProbeProcess(env, log_path, name)
    try:
        probe.start()
        yield probe
    finally:
        probe.stop()


@pytest.fixture(scope="module")
def probe(suite_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[ProbeProcess]:
    """The probe service, shared by a module's tests (they must not stop it)."""
    log_path = tmp_path_factory.mktemp("probe") / "probe.log"
    with running_probe(suite_env, log_path) as running:
        yield running


@pytest.fixture
def make_probe(suite_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """Probe services of a test's own (own name, own queue), stopped when the test ends."""
    made: list[ProbeProcess] = []

    def make(name: str, amqp_uri: str | None = None) -> ProbeProcess:
        env = {**suite_env, "AMQP_URI": amqp_uri} if amqp_uri else suite_env
        made.append(ProbeProcess(env, tmp_path / f"{name}.log", name))
        return made[-1]

    yield make
    for probe in made:
        probe.stop()
