"""`make run` as a newcomer meets it: plain database URLs, a development admin printed once,
and a service killed with -9 is back within 10 s while the gateway keeps serving."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import infra
from tests.support.suite import RunningSuite, running_suite

pytestmark = pytest.mark.e2e
BACK_WITHIN = 10.0


@pytest.fixture(scope="module")
def plain_env() -> Iterator[dict[str, str]]:
    """Empty databases named in the libpq form (`make run` creates and migrates them), and a
    vhost of its own: no other suite of the session may answer these suites' RPCs."""
    prefix = infra.unique("plain")
    amqp_uri = infra.create_vhost(prefix)
    server = infra.PG_SERVER.replace("postgresql+psycopg2://", "postgresql://")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADMIN_")}
    env.update({"AMQP_URI": amqp_uri, "RATE_LIMIT_ENABLED": "false", "METRICS_PORT": "0",
                "DB_POOL_SIZE": "4", "PYTHONWARNINGS": "ignore::Warning:nameko.cli.commands"})
    for service in infra.SERVICES:
        env[f"{service.upper()}_DATABASE_URL"] = f"{server}/{prefix}_{service}"
    try:
        yield env
    finally:
        for service in infra.SERVICES:
            infra.drop_database(f"{prefix}_{service}")
        infra.delete_vhost(prefix)


def banner(suite: RunningSuite) -> str:
    deadline = time.monotonic() + 10
    while "The suite is up." not in suite.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    return suite.log()


def child_pid(suite: RunningSuite, module: str) -> int:
    out = subprocess.run(["pgrep", "-P", str(suite.process.pid), "-f", module],
                         capture_output=True, text=True, check=True).stdout.split()
    assert len(out) == 1, out
    return int(out[0])


def test_first_run_prints_where_to_go_and_the_admin_once(plain_env: dict[str, str],
                                                          tmp_path: Path) -> None:
    with running_suite(plain_env, tmp_path / "first.log") as suite:
        log = banner(suite)
        assert f"API:      {suite.url}" in log and f"{suite.url}/docs" in log
        found = re.search(r"development admin created: (\S+) / (\S+)", log)
        assert found, log[-3000:]
        email, password = found.groups()
        login = httpx.post(f"{suite.url}/auth/login",
                           json={"email": email, "password": password}, timeout=30)
        assert login.status_code == 200, login.text
        me = httpx.get(f"{suite.url}/auth/me", timeout=10,
                       headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert "admin" in me.json()["roles"]
        assert_demo_seeds_once(suite, plain_env)
    with running_suite(plain_env, tmp_path / "second.log") as suite:
        log = banner(suite)
        assert password not in log and "password printed on the first run" in log


def assert_demo_seeds_once(suite: RunningSuite, env: dict[str, str]) -> None:
    demo = [sys.executable, str(infra.ROOT / "deploy/local/demo.py")]
    env = {**env, "GATEWAY_PORT": suite.url.rsplit(":", 1)[1]}
    first = subprocess.run(demo, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert "catalog: 24 demo products added" in first.stdout, first.stdout + first.stderr
    accounts = re.findall(r"customer: (\S+) / (\S+)", first.stdout)
    assert [email for email, _ in accounts] == ["ada@example.com", "grace@example.com"]
    for email, password in accounts:
        signed_in = httpx.post(f"{suite.url}/auth/login", timeout=30,
                               json={"email": email, "password": password})
        assert signed_in.status_code == 200
    again = subprocess.run(demo, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert "nothing added" in again.stdout and "already exists" in again.stdout
    assert len(httpx.get(f"{suite.url}/products?limit=100", timeout=10).json()["items"]) == 24


def test_production_mode_creates_no_admin(plain_env: dict[str, str], tmp_path: Path) -> None:
    sys.path.insert(0, str(infra.ROOT / "deploy" / "local"))
    from first_run import development_admin

    env = {**plain_env, "SUITE_ENV": "production"}
    assert development_admin(env).startswith("production mode: no development admin")
    assert "ADMIN_PASSWORD" not in env


def test_kill_9_of_a_service_is_restarted_while_the_gateway_keeps_serving(
        plain_env: dict[str, str], tmp_path: Path) -> None:
    with running_suite(plain_env, tmp_path / "kill.log") as suite:
        misses: list[str] = []
        stop = threading.Event()

        def keep_asking() -> None:
            with httpx.Client(base_url=suite.url, timeout=2) as client:
                while not stop.is_set():
                    for path in ("/healthz", "/products?limit=5"):
                        try:
                            status = client.get(path).status_code
                        except httpx.HTTPError as exc:
                            status = type(exc).__name__  # type: ignore[assignment]
                        if status != 200:
                            misses.append(f"{path}: {status}")
                    time.sleep(0.1)

        asker = threading.Thread(target=keep_asking)
        asker.start()
        try:
            os.kill(child_pid(suite, "payments.service"), signal.SIGKILL)
            killed = time.monotonic()
            back = wait_service_up(suite.url, "payments", killed + 30)
        finally:
            stop.set()
            asker.join()
        assert back - killed <= BACK_WITHIN, f"payments back after {back - killed:.1f} s"
        assert misses == []
        assert "run: payments exited with -9" in suite.log()
        assert suite.process.poll() is None


def wait_service_up(url: str, service: str, deadline: float) -> float:
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"{url}/readyz", timeout=2).json()
            if body.get("services", {}).get(service) == "up":
                return time.monotonic()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{service} not back within 30 s")
