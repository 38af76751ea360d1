"""Kill the catalog service under a running gateway: after a few timeouts its breaker opens and
calls fail fast (503 + Retry-After, no waiting); restart it: the breaker closes, calls succeed.

Runs its own catalog and gateway processes (the commands `make run` uses) on a throwaway vhost
and database, so it can kill and restart the catalog without touching anyone else's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import infra

sys.path.insert(0, str(infra.ROOT / "deploy" / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from broker_users import component_env
from edge_support import running_gateway, stop
from prepare import declare_topology
from run import commands

RPC_TIMEOUT = 3.0
COOLDOWN = 2.0
WINDOW = 5.0


@pytest.fixture
def catalog_env(tmp_path) -> Iterator[dict[str, str]]:
    name = infra.unique("breaker")
    database = f"{name}_catalog"
    env = {**os.environ, **infra.vhost_env(name), "PYTHONUNBUFFERED": "1",
           "PYTHONWARNINGS": "ignore::Warning:nameko.cli.commands", "RATE_LIMIT_ENABLED": "false"}
    try:
        env["CATALOG_DATABASE_URL"] = infra.create_database(database)
        infra.migrate("catalog", env["CATALOG_DATABASE_URL"])
        declare_topology(env)
        yield env
    finally:
        infra.delete_vhost(name)
        infra.drop_database(database)


@contextlib.contextmanager
def catalog_process(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("ab") as log:
        process = subprocess.Popen(commands()["catalog"],
                                   env=component_env(env, "catalog"), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        stop(process)


def get_product(http: httpx.Client) -> tuple[int, float, httpx.Response]:
    started = time.perf_counter()
    response = http.get(f"/products/{uuid.uuid4()}")
    return response.status_code, time.perf_counter() - started, response


def wait_for_status(http: httpx.Client, status: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if get_product(http)[0] == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"no {status} within {timeout} s")


def test_breaker_opens_on_a_dead_service_and_closes_when_it_is_back(catalog_env, tmp_path):
    gateway_env = {**catalog_env, "GATEWAY_RPC_TIMEOUT": str(RPC_TIMEOUT),
                   "GATEWAY_BREAKER_FAILURES": "3", "GATEWAY_BREAKER_WINDOW": str(WINDOW),
                   "GATEWAY_BREAKER_COOLDOWN": str(COOLDOWN), "GATEWAY_CACHE_ENABLED": "false"}
    catalog_log = tmp_path / "catalog.log"
    with catalog_process(catalog_env, catalog_log) as catalog, \
            running_gateway(gateway_env, tmp_path / "gateway.log") as gateway, \
            gateway.client(timeout=30) as http:
        wait_for_status(http, 404, 60)
        # Business errors (404 for an unknown product) are answers: they never trip it.
        assert {get_product(http)[0] for _ in range(10)} == {404}
        assert gateway.metric("gateway_circuit_breaker_state", service="catalog") == 0

        os.killpg(catalog.pid, signal.SIGKILL)
        catalog.wait(10)
        time.sleep(WINDOW + 1)  # the window's successes are forgotten: failures now dominate

        def one(_: int) -> tuple[int, float, httpx.Response]:
            with gateway.client(timeout=30) as own:
                return get_product(own)

        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(one, range(4)))
        assert [status for status, _, _ in outcomes] == [504] * 4, "waited out the timeouts"
        assert gateway.metric("gateway_circuit_breaker_state", service="catalog") == 1
        for _ in range(5):
            status, elapsed, response = get_product(http)
            assert status == 503
            assert elapsed < 1.0, f"failed fast ({elapsed:.2f} s vs a {RPC_TIMEOUT} s timeout)"
            assert response.headers["content-type"] == "application/problem+json"
            assert 1 <= int(response.headers["retry-after"]) <= COOLDOWN
        ready = http.get("/readyz")
        assert ready.status_code == 503, "readiness still probes the service itself"
        assert ready.json()["services"]["catalog"] != "up"

        with catalog_process(catalog_env, catalog_log):
            wait_for_status(http, 404, 90)  # a half-open probe got through: closed again
            assert gateway.metric("gateway_circuit_breaker_state", service="catalog") == 0
            assert {get_product(http)[0] for _ in range(5)} == {404}
            assert (gateway.metric("gateway_circuit_breaker_rejected_total",
                                   service="catalog") or 0) >= 5
