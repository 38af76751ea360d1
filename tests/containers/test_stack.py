"""The deployment as an operator meets it, in a private Docker engine (marker `containers`,
`make test-containers`, root): deploy/Dockerfile built unchanged with both builders, the compose
stack up with a generated env file, driven through its published gateway, then faults.
The tests run in file order against one stack (conftest.py); docs/deploy.md quotes the figures."""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time

import httpx
import pytest

from tests.containers.client import Client, ReadStream
from tests.containers.conftest import RESULTS
from tests.containers.engine import Engine
from tests.containers.stack import PROJECT, Stack
from tests.deploy.support import kustomize
from tests.deploy.test_k8s import app, argv_of, env_of

pytestmark = pytest.mark.containers

APPS = ("auth", "catalog", "payments", "gateway")
METRICS = {"auth": 9101, "catalog": 9102, "payments": 9103, "web": 9104}
# Every scrape job of deploy/observability/prometheus-compose.yml, one target each here.
SCRAPED = {"suite-gateway", "suite-auth", "suite-catalog", "suite-payments", "suite-web",
           "rabbitmq", "postgres", "redis", "jaeger"}
TRACED = {"gateway", "auth", "catalog", "payments"}


def admin_token(stack: Stack, client: Client) -> str:
    return client.login(stack.env["ADMIN_EMAIL"], stack.env["ADMIN_PASSWORD"])


def test_the_image_builds_with_both_builders_and_runs_as_uid_10001(engine: Engine,
                                                                    image: str) -> None:
    user = engine.run("image", "inspect", "-f", "{{.Config.User}}", image).stdout.strip()
    assert user == "10001:10001"
    assert engine.exists("commerce-suite:classic-builder")
    # Nothing was pulled: no registry is reachable, and no frontend image appeared.
    listed = engine.run("image", "ls", "--format", "{{.Repository}}").stdout.split()
    assert "docker/dockerfile" not in listed


def test_every_component_runs_hardened(stack: Stack) -> None:
    for component in APPS:
        for info in stack.inspect(*stack.containers(component)):
            host = info["HostConfig"]
            assert host["ReadonlyRootfs"] is True, component
            assert host["CapDrop"] == ["ALL"], component
            assert "no-new-privileges:true" in host["SecurityOpt"], component
            uid = stack.engine.run("exec", info["Id"], "id", "-u").stdout.strip()
            assert uid == "10001", component
            wrote = stack.engine.run("exec", info["Id"], "touch", "/app/x", check=False)
            assert wrote.returncode != 0, f"{component}: the root filesystem is writable"


def test_a_client_journey_through_the_published_gateway(stack: Stack) -> None:
    client = Client(stack.url)
    ready = client.call("GET", "/readyz")
    assert ready.status_code == 200, ready.text
    admin = admin_token(stack, client)
    product = client.new_product(admin)
    customer = client.new_customer()
    key = secrets.token_hex(8)
    first = client.checkout(customer, key, product["id"])
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"
    replay = client.checkout(customer, key, product["id"])
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["id"] == first.json()["id"]
    refund = client.call("POST", f"/payments/{first.json()['id']}/refunds", token=admin,
                         key=secrets.token_hex(8), json={})
    assert refund.status_code == 201, refund.text
    assert refund.json()["amount"] == product["price"]
    overview = client.call("GET", "/me/overview", token=customer)
    assert overview.status_code == 200, overview.text
    body = overview.json()
    assert body["degraded"] == []
    assert [p["id"] for p in body["recent_payments"]] == [first.json()["id"]]
    assert body["recent_payments"][0]["status"] == "refunded"


def test_every_component_serves_metrics_on_the_backend_network(stack: Stack) -> None:
    """Scraped as a Prometheus on the backend network would: from another container there."""
    targets = {**{s: f"http://{s}:{p}/metrics" for s, p in METRICS.items()},
               "gateway": "http://gateway:8000/metrics"}
    for name, url in targets.items():
        script = (f"import urllib.request; r = urllib.request.urlopen({url!r}, timeout=10); "
                  "print(r.status); print(r.read().decode())")
        out = stack.exec("auth" if name == "gateway" else "gateway", "python", "-c", script).stdout
        status, _, text = out.partition("\n")
        assert status == "200", name
        assert "# TYPE" in text, name


def scrape_targets(stack: Stack) -> dict[str, str]:
    """{job: health} of Prometheus' active targets, through its published HTTP API."""
    url = f"http://127.0.0.1:{stack.published['PROMETHEUS']}/api/v1/targets?state=active"
    targets = httpx.get(url, timeout=10).json()["data"]["activeTargets"]
    health: dict[str, str] = {}
    for target in targets:
        job = target["labels"]["job"]
        health[job] = "down" if health.get(job, "up") != "up" else target["health"]
    return health


def test_prometheus_has_every_target_up(stack: Stack) -> None:
    """The observability profile (stand-ins: tests/containers/standins/README.md) scrapes every
    component: each job's targets all `up` within two scrape intervals and a DNS refresh."""
    started, health = time.monotonic(), dict[str, str]()
    while time.monotonic() - started < 90:
        health = scrape_targets(stack)
        if set(health) == SCRAPED and set(health.values()) == {"up"}:
            break
        time.sleep(2)
    RESULTS["every Prometheus target up after s"] = round(time.monotonic() - started, 1)
    assert health == dict.fromkeys(SCRAPED, "up")


def test_every_traced_component_exports_to_the_trace_backend(stack: Stack) -> None:
    """The journey's spans reached the trace backend's OTLP receiver (the Jaeger stand-in lists
    the service names it received, as Jaeger's /api/services does)."""
    url = f"http://127.0.0.1:{stack.published['JAEGER']}/api/services"
    deadline, seen = time.monotonic() + 30, set[str]()
    while time.monotonic() < deadline and not seen >= TRACED:
        seen = set(httpx.get(url, timeout=10).json()["data"])
        time.sleep(1)
    assert seen >= TRACED, seen


def test_grafana_provisioning_mounts_parse(stack: Stack) -> None:
    base = f"http://127.0.0.1:{stack.published['GRAFANA']}"
    sources = httpx.get(f"{base}/api/datasources", timeout=10).json()
    assert {s["type"] for s in sources} == {"prometheus", "jaeger"}
    assert httpx.get(f"{base}/api/search", timeout=10).json(), "no dashboard provisioned"


def wait_restarted(stack: Stack, container: str, restarts_before: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = stack.inspect(container)[0]
        health = (info["State"].get("Health") or {}).get("Status")
        if info["RestartCount"] > restarts_before and health == "healthy":
            return
        time.sleep(0.5)
    state = stack.inspect(container)[0]["State"]
    raise AssertionError(f"not back and healthy in {timeout:g} s: {state}")


def queue_column(stack: Stack, queue: str, column: str) -> int:
    out = stack.exec("rabbitmq", "rabbitmqctl", "-q", "list_queues", "-p", "suite",
                     "name", column).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    return 0


def rpc_consumers(stack: Stack, queue: str) -> int:
    return queue_column(stack, queue, "consumers")


def wait_delivered_unacked(stack: Stack, queue: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while queue_column(stack, queue, "messages_unacknowledged") < 1:
        assert time.monotonic() < deadline, f"{queue}: nothing delivered in {timeout:g} s"
        time.sleep(0.2)


def kill_frozen(stack: Stack, container: str) -> None:
    """SIGKILL while paused; under cgroup v1 it lands when the freezer thaws (unpause); under v2
    the process is already gone, so unpause may fail."""
    os.kill(stack.inspect(container)[0]["State"]["Pid"], signal.SIGKILL)
    stack.engine.run("unpause", container, check=False)


def test_killed_mid_checkout_it_restarts_and_the_retry_charges_once(stack: Stack) -> None:
    """SIGKILL to the container's process, from the host, as the OOM killer or a crash would:
    `docker kill` is a manual stop to Docker (20.10), which no restart policy undoes. Payments is
    paused first, so the checkout's RPC is delivered to it and held unacked when the kill lands."""
    client = Client(stack.url)
    admin = admin_token(stack, client)
    product = client.new_product(admin, stock=10)
    customer = client.new_customer()
    key = secrets.token_hex(8)
    payments = stack.one("payments")
    restarts = stack.inspect(payments)[0]["RestartCount"]
    first: list[object] = []

    def checkout() -> None:
        try:
            first.append(client.checkout(customer, key, product["id"]).status_code)
        except httpx.HTTPError as error:
            first.append(repr(error))

    thread = threading.Thread(target=checkout)
    stack.engine.run("pause", payments)
    try:
        thread.start()
        wait_delivered_unacked(stack, "rpc-payments", timeout=30)
        at_kill = list(first)
        killed = time.monotonic()
    finally:
        kill_frozen(stack, payments)
    # Frozen, payments could not have answered: still pending, or the gateway's 504/503.
    assert at_kill in ([], [503], [504]), at_kill
    thread.join(60)
    # 201 only if the restarted payments ran the redelivered RPC within the gateway's timeout.
    assert not thread.is_alive() and first[0] in (201, 503, 504), first
    wait_restarted(stack, payments, restarts, timeout=180)
    RESULTS["recover from SIGKILL of payments s (to healthy)"] = round(time.monotonic() - killed, 1)
    deadline = time.monotonic() + 120
    retried: list[int] = []
    while time.monotonic() < deadline:
        reply = client.checkout(customer, key, product["id"])
        retried.append(reply.status_code)
        if reply.status_code == 201:
            break
        assert reply.status_code in (409, 503, 504), reply.text
        time.sleep(1)
    RESULTS["kill mid-checkout: first answer (at the kill, then), retries, replayed"] = (
        at_kill, first, retried, reply.headers.get("Idempotent-Replayed"))
    assert retried[-1] == 201, retried
    mine = client.call("GET", "/payments", token=customer).json()["items"]
    assert [p["status"] for p in mine] == ["succeeded"], mine
    after = client.call("GET", f"/products/{product['id']}").json()
    assert after["available"] == 9, after


def test_scale_catalog_to_three_consumers_while_reads_keep_succeeding(stack: Stack) -> None:
    with ReadStream(Client(stack.url)) as reads:
        time.sleep(1)
        stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "catalog=3")
        stack.wait_healthy()
        deadline = time.monotonic() + 60
        while rpc_consumers(stack, "rpc-catalog") != 3 and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(1)
    assert len(stack.containers("catalog")) == 3
    assert rpc_consumers(stack, "rpc-catalog") == 3
    RESULTS["reads while scaling catalog to 3"] = dict(reads.statuses)
    assert set(reads.statuses) == {200}, reads.statuses


def test_restart_catalog_under_reads_gives_only_503_504_with_retry_after(stack: Stack) -> None:
    with ReadStream(Client(stack.url)) as reads:
        time.sleep(2)
        stack.compose("restart", "catalog")
        stack.wait_healthy()
        time.sleep(3)
    RESULTS["reads during `docker-compose restart catalog`"] = dict(reads.statuses)
    failures = {s: n for s, n in reads.statuses.items() if s >= 500 or s == 0}
    assert set(failures) <= {503, 504}, reads.statuses
    assert reads.without_retry_after == []
    assert reads.statuses[200] > 0


def test_the_k8s_deployments_run_exactly_what_ran_here(stack: Stack, engine: Engine,
                                                      image: str) -> None:
    """The dev overlay's Deployments: the same image, command and environment names as the
    containers this test just ran (Kubernetes cannot run here; its schemas: tests/deploy)."""
    objects = kustomize("dev")
    image_env = {e.split("=", 1)[0] for e in json.loads(engine.run(
        "image", "inspect", "-f", "{{json .Config.Env}}", image).stdout)}
    for name in APPS:
        ran = stack.inspect(stack.one(name) if name != "catalog" else stack.containers(name)[0])[0]
        pod = app(objects, name)["containers"][0]
        assert pod["image"] == ran["Config"]["Image"] == image, name
        assert argv_of(pod) == ran["Config"]["Cmd"], name
        assert ran["Config"]["Entrypoint"] in (None, []), name
        ran_names = {e.split("=", 1)[0] for e in ran["Config"]["Env"]}
        assert set(env_of(objects, pod)) | image_env == ran_names, name


def test_down_v_leaves_no_container_network_or_volume(stack: Stack, engine: Engine) -> None:
    stack.down()
    label = f"label=com.docker.compose.project={PROJECT}"
    assert stack.containers() == []
    assert engine.run("network", "ls", "-q", "--filter", label).stdout.split() == []
    assert engine.run("volume", "ls", "-q", "--filter", label).stdout.split() == []
