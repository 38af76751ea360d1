"""GATEWAY_WORKERS > 1: whichever worker answers /metrics counts every worker's requests
(prometheus-client's multiprocess mode, set up by `python -m gateway`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.observability.support import scrape, total
from tests.support.suite import free_port

REQUESTS = 40


@pytest.fixture
def two_workers(amqp_uri, tmp_path):
    port = free_port()
    env = {**os.environ, "AMQP_URI": amqp_uri, "GATEWAY_PORT": str(port),
           "GATEWAY_HOST": "127.0.0.1", "GATEWAY_WORKERS": "2", "RATE_LIMIT_ENABLED": "false",
           "GATEWAY_CACHE_ENABLED": "false", "LOG_LEVEL": "WARNING", "TMPDIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (tmp_path / "gateway.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gateway"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        yield url, process, tmp_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_every_worker_is_counted_whoever_answers_the_scrape(two_workers):
    url, process, tmp_path = two_workers
    before = total(scrape(f"{url}/metrics"), "gateway_requests_total", route="/healthz")
    for _ in range(REQUESTS):  # a new connection each: the kernel spreads them over workers
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    for _ in range(6):
        seen = total(scrape(f"{url}/metrics"), "gateway_requests_total", route="/healthz")
        assert seen - before >= REQUESTS
    (directory,) = [p for p in tmp_path.iterdir() if p.name.startswith("gateway-metrics-")]
    assert any(directory.iterdir())  # one file per worker and metric type

    os.killpg(process.pid, signal.SIGTERM)
    process.wait(20)
    assert not directory.exists()  # removed at exit: stale files would count dead processes
