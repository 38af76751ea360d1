"""deploy/rabbitmq: the permission regexes allow what each component does on the broker (the
suite's own topology, read from shared.messaging, as RabbitMQ authorises it) and no more; and
provision.py creates exactly those users through the management API."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kombu.entity import Exchange, Queue

from shared.messaging import names, topology
from tests.support.infra import ROOT

PERMISSIONS = json.loads((ROOT / "deploy/rabbitmq/permissions.json").read_text())
SERVICES = topology.SERVICES
UUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def allowed(user: str, kind: str, resource: str) -> bool:
    # RabbitMQ matches the whole resource name against the user's regex for that kind.
    return re.search(PERMISSIONS["users"][user][kind], resource) is not None


def declaring_topology(user: str) -> Iterator[tuple[str, str]]:
    """Every (permission, resource) RabbitMQ checks while `declare_topology` runs: configure on
    each entity, write on a bound queue + read on its exchange, and for a queue declared with a
    dead-letter exchange read on the queue + write on that exchange ('' is amq.default)."""
    # The exact declarations, arguments included, for either BUS_QUEUE_TYPE.
    for entity in topology._entities("classic") + topology._entities("quorum"):
        yield "configure", entity.name
        if isinstance(entity, Queue):
            assert isinstance(entity.exchange, Exchange)
            yield "write", entity.name
            yield "read", entity.exchange.name
            arguments = entity.queue_arguments or {}
            if "x-dead-letter-exchange" in arguments:
                yield "read", entity.name
                yield "write", arguments["x-dead-letter-exchange"] or "amq.default"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_declare_the_whole_topology(service: str) -> None:
    refused = [(kind, name) for kind, name in declaring_topology(service)
               if not allowed(service, kind, name)]
    assert not refused, f"{service} would be refused: {refused}"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_serve_and_make_rpc_calls_and_publish_its_events(service: str) -> None:
    reply_queue = f"rpc.reply-{service}-{UUID}"
    for kind, resource in [
        ("configure", "nameko-rpc"), ("configure", f"rpc-{service}"),
        ("write", f"rpc-{service}"), ("read", "nameko-rpc"), ("read", f"rpc-{service}"),
        ("write", "nameko-rpc"),  # replies and calls
        ("configure", reply_queue), ("write", reply_queue), ("read", reply_queue),
        ("configure", f"rpc.reply-{service}-probe-{UUID.replace('-', '')}"),  # probes/ping.py
        ("write", names.event_exchange(service)),  # the outbox relay
        ("write", names.DLX), ("write", names.RETRY_EXCHANGE),  # parking, retries
        ("configure", names.dead_letter_queue(names.rpc_queue(service))),
    ]:
        assert allowed(service, kind, resource), (service, kind, resource)
    for sub in topology.subscriptions():
        if sub.service == service:
            assert allowed(service, "read", sub.queue), sub


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_not_serve_or_answer_as_another(service: str) -> None:
    for other in SERVICES:
        if other == service:
            continue
        for kind in ("configure", "read"):
            assert not allowed(service, kind, f"rpc-{other}"), (service, kind, other)
            assert not allowed(service, kind, f"rpc.reply-{other}-{UUID}"), (service, other)
        assert not allowed(service, "write", names.event_exchange(other)), (service, other)
    assert not allowed(service, "configure", "amq.default")
    assert not allowed(service, "configure", "gateway-cache-x")


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_touches_only_the_suites_topology_and_never_consumes_dead_letters(
        service: str) -> None:
    """What the whole-topology declaration does NOT need: reading a DLQ (parking publishes to
    the DLX; the DLQ-depth metric is a passive declare, which needs no permission; replaying
    is suite-ops' job, with its own operator user), and any exchange or queue outside the
    topology's names."""
    for dlq in topology.dead_letter_queues():
        assert not allowed(service, "read", dlq), (service, dlq)
    for kind in ("configure", "write", "read"):
        for foreign in ("orders.events", "evt-anything", "evt-x.dlq", "rpc-orders.dlq",
                        "amq.topic", "suite.other"):
            assert not allowed(service, kind, foreign), (service, kind, foreign)


def test_the_gateway_calls_services_and_follows_catalog_events_only() -> None:
    reply_queue = f"rpc.reply-gateway-{UUID}"
    cache_queue = f"gateway-cache-{UUID}"
    for kind, resource in [
        ("configure", "nameko-rpc"), ("write", "nameko-rpc"), ("read", "nameko-rpc"),
        ("configure", reply_queue), ("write", reply_queue), ("read", reply_queue),
        ("configure", "catalog.events"), ("read", "catalog.events"),
        ("configure", cache_queue), ("write", cache_queue), ("read", cache_queue),
    ]:
        assert allowed("gateway", kind, resource), (kind, resource)
    for service in SERVICES:
        assert not allowed("gateway", "read", f"rpc-{service}")
        assert not allowed("gateway", "write", names.event_exchange(service))
    for queue in topology.all_queues():
        assert not any(allowed("gateway", kind, queue) for kind in ("configure", "write", "read"))
    assert not allowed("gateway", "write", "amq.default")


def test_every_component_has_a_user_and_no_guest() -> None:
    assert set(PERMISSIONS["users"]) == {*SERVICES, "gateway"}
    assert PERMISSIONS["vhost"] == "suite"


class FakeManagementApi(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, Any, str]] = []

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.calls.append((self.command, self.path, body, self.headers["Authorization"]))
        self.send_response(200 if self.command == "GET" else 201)
        payload = b"{}" if self.command == "GET" else b""
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = _record

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def management_api() -> Iterator[str]:
    FakeManagementApi.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeManagementApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _provision(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> int:
    path = ROOT / "deploy/rabbitmq/provision.py"
    spec = importlib.util.spec_from_file_location("provision", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for key in list(os.environ):
        if key.endswith("_AMQP_PASSWORD") or key.startswith("RABBITMQ_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return module.main()  # type: ignore[no-any-return]


def test_provision_creates_the_vhost_users_and_permissions(management_api, monkeypatch) -> None:
    env = {"RABBITMQ_MANAGEMENT_URL": management_api, "RABBITMQ_ADMIN_USER": "admin",
           "RABBITMQ_ADMIN_PASSWORD": "adm1n", "PROVISION_TIMEOUT": "5"}
    env |= {f"{u.upper()}_AMQP_PASSWORD": f"pw-{u}" for u in PERMISSIONS["users"]}
    assert _provision(monkeypatch, env) == 0
    calls = {(method, path): body for method, path, body, _ in FakeManagementApi.calls}
    assert ("PUT", "/api/vhosts/suite") in calls
    for user, rules in PERMISSIONS["users"].items():
        assert calls[("PUT", f"/api/users/{user}")] == {"password": f"pw-{user}", "tags": ""}
        assert calls[("PUT", f"/api/permissions/suite/{user}")] == {
            key: rules[key] for key in ("configure", "write", "read")}
        # Topic permissions: which RPC routing keys the user may publish and bind.
        topic = rules["topic"]["nameko-rpc"]
        assert calls[("PUT", f"/api/topic-permissions/suite/{user}")] == {
            "exchange": "nameko-rpc", **topic}
    assert {auth for *_, auth in FakeManagementApi.calls} == {"Basic YWRtaW46YWRtMW4="}


def test_provision_refuses_to_run_without_every_password(management_api, monkeypatch) -> None:
    env = {"RABBITMQ_MANAGEMENT_URL": management_api, "AUTH_AMQP_PASSWORD": "x"}
    with pytest.raises(SystemExit, match="CATALOG_AMQP_PASSWORD"):
        _provision(monkeypatch, env)
    assert FakeManagementApi.calls == []
