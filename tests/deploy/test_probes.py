"""deploy/probes: the checks behave as the manifests rely on (the parity runs prove them on the
real suite; these pin down the failure cases)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pika
import pytest
from sqlalchemy import create_engine, text

from tests.support import infra

PROBES = infra.ROOT / "deploy/probes"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"deploy_probe_{name}", PROBES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ping = load("ping")


def run(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(PROBES / script), *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


@contextlib.contextmanager
def child(code: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        yield process
    finally:
        process.kill()
        process.wait()


def test_rpc_ping_fails_fast_when_nobody_serves_the_service(amqp_uri: str) -> None:
    with pytest.raises(ping.Unhealthy):  # not even the nameko-rpc exchange exists yet
        ping.check_rpc("ghost", amqp_uri, 3.0)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    connection.channel().exchange_declare("nameko-rpc", "topic", durable=True)
    connection.close()
    started = time.monotonic()
    with pytest.raises(ping.Unhealthy, match="no ghost instance consumes rpc-ghost"):
        ping.check_rpc("ghost", amqp_uri, 3.0)
    assert time.monotonic() - started < 3.0, "an unroutable ping is answered at once"


def test_rpc_ping_reports_an_unreachable_broker() -> None:
    with pytest.raises(ping.Unhealthy, match="broker unreachable"):
        ping.check_rpc("auth", "amqp://guest:guest@127.0.0.1:1/", 2.0)


def test_local_check_needs_the_process_own_broker_connection(amqp_uri: str) -> None:
    connected = ("import pika, sys, time; c = pika.BlockingConnection(pika.URLParameters("
                 f"{amqp_uri!r})); print('ready', flush=True); time.sleep(60)")
    with child(connected) as process:
        result = run("ping.py", "service", "x", "--local-only", "--pid", str(process.pid),
                     env={"AMQP_URI": amqp_uri, "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr
    with child("import time; print('ready', flush=True); time.sleep(60)") as process:
        result = run("ping.py", "service", "x", "--local-only", "--pid", str(process.pid),
                     env={"AMQP_URI": amqp_uri, "PATH": "/usr/bin:/bin"})
        assert result.returncode == 1
        assert "no connection to the broker port 5672" in result.stderr


def test_service_processes_are_found_by_their_nameko_command(monkeypatch) -> None:
    monkeypatch.setattr(ping, "cmdlines", lambda: {
        7: ["/opt/venv/bin/python", "/opt/venv/bin/nameko", "run", "--config",
            "services/catalog/config.yaml", "catalog.service:CatalogService"],
        8: ["python", "-m", "gateway"]})
    assert ping.service_pids("catalog") == [7]
    assert ping.service_pids("auth") == []
    with pytest.raises(ping.Unhealthy, match="no `nameko run"):
        ping.check_local("auth", "amqp://x@h/", None)


def test_auto_checks_whatever_this_container_runs(monkeypatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(ping, "check_gateway", lambda live, timeout: seen.append(("gw", live)))
    monkeypatch.setattr(ping, "check_local", lambda s, uri, pid: seen.append(("local", s)))
    monkeypatch.setattr(ping, "check_rpc", lambda s, uri, timeout: seen.append(("rpc", s)))
    monkeypatch.setattr(ping, "cmdlines", lambda: {1: ["python", "-m", "gateway"]})
    ping.check_auto(1.0)
    monkeypatch.setattr(ping, "cmdlines", lambda: {
        1: ["/opt/venv/bin/python", "/opt/venv/bin/nameko", "run", "--config",
            "services/payments/config.yaml", "payments.service:PaymentsService"]})
    ping.check_auto(1.0)
    monkeypatch.setattr(ping, "cmdlines", lambda: {1: ["python", "-m", "alembic", "upgrade"]})
    ping.check_auto(1.0)  # a one-shot step: nothing to check
    assert seen == [("gw", False), ("local", "payments"), ("rpc", "payments")]


class Readyz(BaseHTTPRequestHandler):
    status = 200
    body: dict[str, Any] = {}

    def do_GET(self) -> None:
        payload = json.dumps(self.body).encode()
        self.send_response(self.status if self.path == "/readyz" else 200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway(monkeypatch) -> Iterator[type[Readyz]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Readyz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("GATEWAY_PORT", str(server.server_address[1]))
    try:
        yield Readyz
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "broker", "healthy"), [
    (200, "up", True),
    (503, "up", True),  # a service is down: every gateway would see it; stay in rotation
    (503, "down", False),  # this gateway lost its broker connection: route around it
])
def test_gateway_readiness_is_its_own_broker_connection(gateway, status, broker,
                                                         healthy) -> None:
    gateway.status, gateway.body = status, {"broker": broker, "services": {"auth": "timeout"}}
    if healthy:
        ping.check_gateway(live=False, timeout=2.0)
    else:
        with pytest.raises(ping.Unhealthy, match="no broker connection"):
            ping.check_gateway(live=False, timeout=2.0)


def test_gateway_liveness_is_healthz_only(gateway, monkeypatch) -> None:
    gateway.status, gateway.body = 503, {"broker": "down"}
    ping.check_gateway(live=True, timeout=2.0)
    monkeypatch.setenv("GATEWAY_PORT", "1")
    with pytest.raises(ping.Unhealthy, match="unreachable"):
        ping.check_gateway(live=True, timeout=2.0)


@pytest.fixture
def empty_database() -> Iterator[str]:
    name = infra.unique("deployprobe")
    try:
        yield infra.create_database(name)
    finally:
        infra.drop_database(name)


def test_migrated_waits_for_the_schema_and_accepts_a_newer_one(empty_database: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "CATALOG_DATABASE_URL": empty_database}
    args = (str(infra.ROOT / "services/catalog/alembic.ini"), "--url-env", "CATALOG_DATABASE_URL")
    result = run("migrated.py", *args, "--wait", "0", env=env)
    assert result.returncode == 1 and "waiting for" in result.stdout
    engine = create_engine(empty_database)
    with engine.begin() as conn:  # a later release's migration ran: this image must not block
        conn.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('f00dfeedbeef')"))
    engine.dispose()
    result = run("migrated.py", *args, env=env)
    assert result.returncode == 0 and "ahead of this image" in result.stdout
    assert run("migrated.py", *args, env={"PATH": "/usr/bin:/bin"}).returncode == 2
