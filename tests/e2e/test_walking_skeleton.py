"""The walking skeleton end to end: deploy/local/run.py started as `make run` starts it, then
probed over HTTP, with the broker "killed" and revived by a fault proxy in front of it.

The suite under test gets a vhost of its own: the session's `suite` fixture may be running
services on the session vhost, and they would answer this suite's pings (and log them).
The real RabbitMQ is never stopped; only the proxy's connections are dropped.
"""

from __future__ import annotations

import contextlib
import json
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
from openapi_spec_validator import validate

from tests.support import infra
from tests.support.faultproxy import FaultProxy
from tests.support.suite import RunningSuite, free_port, running_suite

pytestmark = pytest.mark.e2e

SERVICES = ("auth", "catalog", "payments")
READY_WITHIN = 2.0  # contract: a dead broker is reported at once, never a hang
RECOVER_WITHIN = 15.0
STOP_WITHIN = 10.0


@pytest.fixture(scope="module")
def vhost_uri() -> Iterator[str]:
    name = infra.unique("e2e")
    uri = infra.create_vhost(name)
    yield uri
    infra.delete_vhost(name)


@pytest.fixture(scope="module")
def proxy(vhost_uri: str) -> Iterator[FaultProxy]:
    with FaultProxy.for_uri(vhost_uri) as running:
        yield running


@pytest.fixture(scope="module")
def suite_env_via_proxy(suite_env: dict[str, str], vhost_uri: str,
                        proxy: FaultProxy) -> dict[str, str]:
    # Every component's own broker user, through the proxy too.
    own = {key: proxy.uri(uri) for key, uri in suite_env.items() if key.endswith("_AMQP_URI")}
    return {**suite_env, **own, "AMQP_URI": proxy.uri(vhost_uri)}


@pytest.fixture(scope="module")
def skeleton(suite_env_via_proxy: dict[str, str],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSuite]:
    log_path = tmp_path_factory.mktemp("e2e") / "run.log"
    with running_suite(suite_env_via_proxy, log_path) as running:
        yield running


def get(suite: RunningSuite, path: str, **kwargs) -> httpx.Response:
    return httpx.get(f"{suite.url}{path}", timeout=5.0, **kwargs)


def test_healthz(skeleton: RunningSuite):
    response = get(skeleton, "/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_every_service_up(skeleton: RunningSuite):
    response = get(skeleton, "/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["broker"] == "up"
    assert body["services"] == {service: "up" for service in SERVICES}


def test_openapi_is_valid_3_1_and_lists_every_route(skeleton: RunningSuite,
                                                   suite_env_via_proxy: dict[str, str]):
    document = get(skeleton, "/openapi.json").json()

    validate(document)
    assert document["openapi"].startswith("3.1")
    assert served_routes(suite_env_via_proxy) <= {
        (path, method) for path, item in document["paths"].items() for method in item}


def served_routes(env: dict[str, str]) -> set[tuple[str, str]]:
    """Every route of an app built like the running one (same environment), in a process of
    its own so that create_app's logging set-up stays out of pytest's."""
    script = ("import json; from fastapi.routing import APIRoute, iter_route_contexts; "
              "from gateway.app import create_app; print(json.dumps([[c.path, m.lower()] "
              "for c in iter_route_contexts(create_app().routes) "
              "if isinstance(c.original_route, APIRoute) and c.original_route.include_in_schema "
              "for m in c.original_route.methods]))")
    out = subprocess.run([sys.executable, "-c", script], env={**env, "LOG_LEVEL": "ERROR"},
                         capture_output=True, text=True, check=True, timeout=60).stdout
    routes = {(path, method) for path, method in json.loads(out.splitlines()[-1])}
    assert {("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get")} <= routes
    return routes


def test_docs_page(skeleton: RunningSuite):
    response = get(skeleton, "/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs", "/metrics",
                                  "/no/such/path"])
def test_every_response_has_a_request_id(skeleton: RunningSuite, path: str):
    assert get(skeleton, path).headers["x-request-id"]


def test_the_client_request_id_reaches_every_service_log(skeleton: RunningSuite):
    request_id = f"e2e-{uuid.uuid4().hex}"
    # Readiness fans out at most once a second (gateway.readiness): let an earlier answer expire.
    time.sleep(1.2)

    response = get(skeleton, "/readyz", headers={"X-Request-ID": request_id})

    assert response.headers["x-request-id"] == request_id
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and services_logging(skeleton, request_id) != set(SERVICES):
        time.sleep(0.2)
    assert services_logging(skeleton, request_id) == set(SERVICES)


def services_logging(suite: RunningSuite, request_id: str) -> set[str]:
    """Services (by run.py's line prefix) that wrote a JSON line bound to `request_id`."""
    marker = f'"request_id":"{request_id}"'
    return {line.split("|", 1)[0].strip() for line in suite.log().splitlines()
            if marker in line} & set(SERVICES)


def test_a_dead_broker_is_503_at_once_and_recovery_needs_no_restart(
        skeleton: RunningSuite, proxy: FaultProxy):
    assert get(skeleton, "/readyz").status_code == 200
    children = descendants(skeleton.process.pid)

    proxy.stop()
    try:
        first_503 = poll_readyz(skeleton, 503, within=READY_WITHIN)
        # It keeps answering, quickly, while the broker stays away; liveness is unaffected.
        for _ in range(5):
            started = time.monotonic()
            response = get(skeleton, "/readyz")
            assert response.status_code == 503
            assert time.monotonic() - started < READY_WITHIN
            time.sleep(0.2)
        assert get(skeleton, "/healthz").status_code == 200
    finally:
        proxy.start()
    recovered = poll_readyz(skeleton, 200, within=RECOVER_WITHIN)

    assert first_503["body"]["status"] == 503
    assert first_503["body"]["broker"] == "down"
    assert first_503["headers"]["retry-after"]
    assert first_503["headers"]["x-request-id"]
    assert recovered["body"]["services"] == {service: "up" for service in SERVICES}
    assert descendants(skeleton.process.pid) == children  # nothing was restarted


def poll_readyz(suite: RunningSuite, status: int, within: float) -> dict:
    """Poll /readyz until it answers `status`; every answer must come back (no hang)."""
    started = time.monotonic()
    seen: list[object] = []
    while time.monotonic() - started < within:
        try:
            response = httpx.get(f"{suite.url}/readyz", timeout=within)
        except httpx.HTTPError as error:
            seen.append(type(error).__name__)
        else:
            seen.append(response.status_code)
            if response.status_code == status:
                return {"after": time.monotonic() - started, "body": response.json(),
                        "headers": response.headers}
        time.sleep(0.1)
    raise AssertionError(f"/readyz not {status} within {within} s; saw {seen[-10:]}")


def test_sigterm_stops_the_suite_and_every_child(suite_env_via_proxy: dict[str, str],
                                                 tmp_path: Path):
    with running_suite(suite_env_via_proxy, tmp_path / "run.log") as suite:
        children = descendants(suite.process.pid)
        assert len(children) >= 4, children  # three services and the gateway

        started = time.monotonic()
        suite.process.send_signal(signal.SIGTERM)
        code = suite.process.wait(STOP_WITHIN + 5)
        took = time.monotonic() - started

        alive = [pid for pid, start in children.items() if running(pid, start)]
        for pid in alive:  # leave nothing behind, even when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert code == 0, suite.log()[-3000:]
        assert took < STOP_WITHIN, suite.log()[-3000:]
        assert alive == []


def test_an_unreachable_broker_is_one_clear_line_and_a_failure(suite_env: dict[str, str]):
    env = {**suite_env, "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
           "GATEWAY_PORT": str(free_port())}

    result = subprocess.run([sys.executable, str(infra.ROOT / "deploy/local/run.py")], env=env,
                            capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "RabbitMQ" in lines[0]
    assert "rabbitmq-server" in lines[0]  # how to start it
    assert "guest:guest" not in lines[0]  # the password is masked


def test_a_broker_refusing_the_vhost_is_one_line_that_says_so(suite_env: dict[str, str]):
    missing = infra.unique("no_such_vhost")
    env = {**suite_env, "AMQP_URI": f"amqp://guest:guest@{infra.BROKER_HOST}/{missing}",
           "GATEWAY_PORT": str(free_port())}

    result = subprocess.run([sys.executable, str(infra.ROOT / "deploy/local/run.py")], env=env,
                            capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "RabbitMQ" in lines[0] and "vhost" in lines[0]
    assert "rabbitmq-server" not in lines[0]  # it is running: starting it is not the advice


# Processes, read from /proc: pid -> start time (tells a reused pid from the original).

def descendants(root: int) -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat_fields(int(entry.name))
                parents[int(entry.name)] = int(fields[1])
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                with contextlib.suppress(OSError, IndexError, ValueError):
                    found[pid] = int(stat_fields(pid)[19])
                    frontier.append(pid)
    return found


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: state, ppid, ... (starttime is index 19)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def running(pid: int, start: int) -> bool:
    try:
        fields = stat_fields(pid)
    except (OSError, IndexError):
        return False
    return int(fields[19]) == start and fields[0] != "Z"
