"""kill -9 the payments process mid-checkout, restart it: the payment ends terminal, the card is
charged at most once and the stock is consistent. Meanwhile /me/overview degrades, never fails.

Runs its own processes (the commands `make run` uses) on a throwaway vhost and databases, so it
can kill and restart payments alone; PAYMENTS_TEST_CRASH_AFTER places the SIGKILL exactly.
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
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support import infra
from tests.support.suite import free_port

sys.path.insert(0, str(infra.ROOT / "deploy" / "local"))
from broker_users import component_env
from prepare import prepare
from run import commands

ADMIN = {"ADMIN_EMAIL": "crash-admin@suite.test", "ADMIN_PASSWORD": uuid.uuid4().hex}


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.url = f"http://127.0.0.1:{env['GATEWAY_PORT']}"

    def start(self, name: str, **extra: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.running[name] = subprocess.Popen(
                commands()[name], env=component_env({**self.env, **extra}, name), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"not ready:\n{self.log('payments')[-3000:]}")

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> Iterator[tuple[Processes, str]]:
    name = infra.unique("crash")
    urls = {s: infra.create_database(f"{name}_{s}") for s in infra.SERVICES}
    env = {**os.environ, **ADMIN, "AMQP_URI": infra.create_vhost(name),
           "RATE_LIMIT_ENABLED": "false", "PYTHONUNBUFFERED": "1", "GATEWAY_HOST": "127.0.0.1",
           "GATEWAY_PORT": str(free_port()), "PAYMENTS_LEASE_SECONDS": "2",
           "PAYMENTS_SWEEP_INTERVAL": "0.5",
           "PYTHONWARNINGS": "ignore::Warning:nameko.cli.commands",
           **{f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()}}
    processes = Processes(env, tmp_path_factory.mktemp("crash"))
    try:
        prepare(env)
        for service in ("auth", "catalog", "payments", "gateway"):
            processes.start(service)
        processes.wait_ready()
        yield processes, urls["payments"]
    finally:
        processes.stop_all()
        infra.delete_vhost(name)
        for service in infra.SERVICES:
            infra.drop_database(f"{name}_{service}")


def login(http: httpx.Client, email: str, password: str) -> dict[str, str]:
    response = http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def charges(database_url: str, payment_id: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM simulator_charges WHERE idempotency_key = :k"),
                {"k": f"payment-{payment_id}"}).scalar_one())
    finally:
        engine.dispose()


def wait_for(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    return check()


@pytest.mark.parametrize("step", ["reserve", "charge"])
def test_killed_mid_checkout_then_restarted(system, step):
    processes, payments_db = system
    http = httpx.Client(base_url=processes.url, timeout=15)
    admin = login(http, ADMIN["ADMIN_EMAIL"], ADMIN["ADMIN_PASSWORD"])
    product = http.post("/products", headers=admin, json={
        "sku": f"SKU-{uuid.uuid4().hex[:10]}", "name": "Lamp", "price": 4000, "stock": 5}).json()
    email = f"crash-{uuid.uuid4().hex[:8]}@example.com"
    http.post("/auth/register", json={"email": email, "password": "correct horse battery"})
    buyer = login(http, email, "correct horse battery")

    processes.running["payments"].send_signal(signal.SIGTERM)
    processes.running["payments"].wait(20)
    processes.start("payments", PAYMENTS_TEST_CRASH_AFTER=step)
    processes.wait_ready()
    order = {"items": [{"product_id": product["id"], "quantity": 2}], "payment_method": "tok_visa"}
    key = {**buyer, "Idempotency-Key": f"crash-{step}"}
    died = http.post("/payments", json=order, headers=key)
    assert died.status_code in (503, 504), died.text
    assert processes.running["payments"].wait(20) == -signal.SIGKILL

    overview = http.get("/me/overview", headers=buyer)  # payments is down: degraded, not 5xx
    assert overview.status_code == 200
    assert overview.json()["degraded"] == ["payments"]
    assert overview.json()["recent_payments"] is None and overview.json()["user"] is not None

    processes.start("payments")
    processes.wait_ready()
    listed = wait_for(lambda: [p for p in http.get("/payments", headers=buyer).json()["items"]
                               if p["status"] != "pending"])
    assert listed, http.get("/payments", headers=buyer).text
    [payment] = listed
    assert payment["status"] == "succeeded"
    assert charges(payments_db, payment["id"]) == 1
    replay = http.post("/payments", json=order, headers=key)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == payment["id"]
    assert charges(payments_db, payment["id"]) == 1
    assert wait_for(lambda: http.get(f"/products/{product['id']}").json()["available"] == 3)
    time.sleep(1.5)  # the committed reservation is final: stock moved exactly once
    assert http.get(f"/products/{product['id']}").json()["available"] == 3
    reconcile = subprocess.run([sys.executable, "-m", "payments.reconcile"], capture_output=True,
                               env={**processes.env, "PAYMENTS_DATABASE_URL": payments_db},
                               text=True, check=False, timeout=60)
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
