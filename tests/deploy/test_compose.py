"""docker-compose.yml: valid, scalable, secrets from the env file only, and it RUNS: every
application container's command and environment started as local processes (parity.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml

from tests.deploy import parity
from tests.deploy.support import (
    APP_COMPONENTS,
    COMPOSE_ENV_EXAMPLE,
    COMPOSE_FILE,
    SERVICES,
    compose,
    compose_config,
    local_argv,
    metrics_port,
    run_py_commands,
)

BACKING = ("postgres", "rabbitmq", "redis")
ONE_SHOTS = ("rabbitmq-setup", *(f"migrate-{s}" for s in SERVICES))


def services() -> dict[str, Any]:
    """The suite as `up` starts it: the observability and ops profiles are checked in
    tests/observability/test_deploy_files.py."""
    return {name: spec for name, spec in compose_config()["services"].items()
            if not spec.get("profiles")}


def container(name: str) -> parity.Container:
    spec = services()[name]
    return parity.Container(name, list(spec["command"]), dict(spec.get("environment") or {}))


def test_config_validates_with_a_generated_and_with_the_example_env_file() -> None:
    opt_in = {name for name, spec in services().items() if spec.get("profiles")}
    assert opt_in <= {"loadtest"}
    assert set(services()) - opt_in == {*BACKING, *ONE_SHOTS, *APP_COMPONENTS, "web"}
    example = compose("config", env_file=COMPOSE_ENV_EXAMPLE)
    assert example.returncode == 0, example.stderr


def test_secrets_have_no_default_so_a_missing_env_file_fails_loudly() -> None:
    result = compose("config", env_file=None)
    assert result.returncode != 0
    assert "deploy/env/compose.env" in result.stderr


def test_no_secret_is_written_in_the_compose_file() -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    for name, spec in raw["services"].items():
        for key, value in (spec.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "PASS", "URI", "URL")) and key not in (
                    "RABBITMQ_MANAGEMENT_URL", "WEB_API_URL"):
                assert "${" in str(value), f"{name}.{key} must come from the env file"


def test_nothing_is_process_unique_so_services_scale() -> None:
    for name, spec in services().items():
        assert "container_name" not in spec, name
        if name not in ("gateway", "web"):
            assert not spec.get("ports"), f"only the gateway and web publish a port ({name})"
        if name in SERVICES:
            assert "hostname" not in spec, name
    assert [p["target"] if isinstance(p, dict) else p for p in services()["gateway"]["ports"]]


def test_services_serve_metrics_on_the_network_they_expose() -> None:
    """Prometheus in another container scrapes <service>:<port>: the port is the one the
    service serves /metrics on, and it listens on every address, not on loopback only."""
    for service in SERVICES:
        spec = services()[service]
        env = {k: str(v) for k, v in spec["environment"].items()}
        assert env.get("METRICS_HOST") == "0.0.0.0", service
        port = metrics_port(service, env)
        assert port is not None, f"{service}: metrics turned off"
        assert [str(p) for p in spec.get("expose", [])] == [str(port)], service
    assert "METRICS_HOST" not in services()["gateway"]["environment"], "the gateway: GATEWAY_HOST"


def test_the_gateway_is_published_on_loopback_8000() -> None:
    """127.0.0.1:8000 as `make run` serves it; GATEWAY_PUBLISH opens it wider on purpose."""
    ports = services()["gateway"]["ports"]
    published = [(p.get("host_ip"), str(p["published"]), int(p["target"])) if isinstance(p, dict)
                 else tuple(str(p).split("/")[0].split(":")) for p in ports]
    assert [(ip, str(a), int(b)) for ip, a, b in published] == [("127.0.0.1", "8000", 8000)]


def test_startup_order_migrations_then_services_then_gateway() -> None:
    def condition(name: str, dependency: str) -> str:
        return services()[name]["depends_on"][dependency]["condition"]  # type: ignore[no-any-return]

    for service in SERVICES:
        assert condition(service, f"migrate-{service}") == "service_completed_successfully"
        assert condition(service, "rabbitmq-setup") == "service_completed_successfully"
        assert condition(service, "postgres") == "service_healthy"
        assert condition(service, "rabbitmq") == "service_healthy"
        assert condition(f"migrate-{service}", "postgres") == "service_healthy"
        assert condition("gateway", service) == "service_healthy"
    assert condition("gateway", "redis") == "service_healthy"
    assert condition("rabbitmq-setup", "rabbitmq") == "service_healthy"


def test_long_running_containers_have_healthchecks_and_one_shots_do_not_restart() -> None:
    for name in (*BACKING, *APP_COMPONENTS):
        check = services()[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), name
        assert services()[name]["restart"] == "unless-stopped", f"{name}: back after a crash"
    for name in ONE_SHOTS:
        assert services()[name]["restart"] == "no", name


def test_a_migration_step_gets_its_database_and_nothing_else() -> None:
    for service in SERVICES:
        assert set(services()[f"migrate-{service}"]["environment"]) == {
            f"{service.upper()}_DATABASE_URL"}


def test_commands_are_deploy_local_run_py_commands() -> None:
    expected = run_py_commands()
    for name in APP_COMPONENTS:
        assert local_argv(services()[name]["command"]) == expected["run"][name], name
    for service in SERVICES:
        assert local_argv(services()[f"migrate-{service}"]["command"]) == \
            expected["migrate"][service], service


@pytest.mark.timeout(900)
def test_parity_the_compose_containers_run_and_serve(tmp_path) -> None:
    """Migrate empty databases with the migration steps, start the services (catalog three
    times, as `--scale catalog=3`) and the gateway, then smoke-test and run every healthcheck."""
    with parity.sandboxed(tmp_path) as launcher:
        launcher.run_once(*(container(f"migrate-{service}") for service in SERVICES))
        for service in SERVICES:
            copies = 3 if service == "catalog" else 1
            for i in range(copies):
                launcher.start(container(service), name=f"{service}-{i + 1}")
        launcher.start(container("gateway"))
        url = f"http://127.0.0.1:{launcher.sandbox.port}"
        launcher.wait_ready(url)

        assert httpx.get(f"{url}/openapi.json", timeout=10).status_code == 200
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        assert parity.consumers(launcher.sandbox.vhost, "rpc-catalog") == 3
        for name in APP_COMPONENTS:
            test = services()[name]["healthcheck"]["test"]
            assert test[0] == "CMD", f"{name}: exec-form healthcheck"
            result = launcher.probe(test[1:], container(name))
            assert result.returncode == 0, f"{name} healthcheck: {result.stderr}"


def test_the_example_env_file_holds_placeholders_only() -> None:
    example = (COMPOSE_FILE.parent / "deploy/env/compose.env.example").read_text()
    values = dict(line.split("=", 1) for line in example.splitlines()
                  if line.strip() and not line.startswith("#"))
    secrets = {k: v for k, v in values.items() if "PASSWORD" in k}
    assert len(secrets) >= 9
    for key, value in secrets.items():
        assert value.startswith("example-"), f"{key}: a placeholder, never a real secret"
    ignored = (COMPOSE_FILE.parent / "deploy/env/.gitignore").read_text().split()
    assert "*.env" in ignored and "!*.env.example" in ignored
