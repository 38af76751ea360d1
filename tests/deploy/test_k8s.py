"""deploy/k8s: each overlay renders (`kubectl kustomize`) and validates offline against the
Kubernetes schemas (kubernetes-validate, strict); the manifests keep the rules docs/deploy.md
promises; and the dev overlay's Deployments and Jobs RUN as local processes (parity.py)."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

from tests.deploy import parity
from tests.deploy.support import (
    APP_COMPONENTS,
    K8S,
    SERVICES,
    compose_config,
    find,
    generated,
    kustomize,
    local_argv,
    metrics_port,
    one,
    run_py_commands,
    secret_data,
)
from tests.support.infra import ROOT

OVERLAYS = ("dev", "prod")
# The oldest Kubernetes the manifests support (docs/deploy.md) and the newest schema shipped.
VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def pods(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            found.append((f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]))
    return found


def app(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return one(objects, "Deployment", name)["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def env_of(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """A container's environment as the kubelet builds it: envFrom, then env on top."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
        if "secretRef" in source:
            env.update(secret_data(one(objects, "Secret", source["secretRef"]["name"])))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secret_data(one(objects, "Secret", ref["name"]))[ref["key"]]
        else:
            ref = item["valueFrom"]["configMapKeyRef"]
            env[item["name"]] = one(objects, "ConfigMap", ref["name"])["data"][ref["key"]]
    return env


def argv_of(container: dict[str, Any]) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates_against_the_kubernetes_schemas(overlay: str,
                                                                      version: str) -> None:
    objects = kustomize(overlay)
    assert objects
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message} "
                          f"at {'/'.join(map(str, error.path))}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_meets_the_restricted_pod_security_level(overlay: str) -> None:
    for name, template in pods(kustomize(overlay)):
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"]), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_app_deployments_are_probed_autoscaled_and_disruption_budgeted(overlay: str) -> None:
    objects = kustomize(overlay)
    for name in APP_COMPONENTS:
        deployment = one(objects, "Deployment", name)
        assert "replicas" not in deployment["spec"], f"{name}: the HPA owns replicas"
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        for probe in PROBES:
            assert probe in container, f"{name} has no {probe}"
        hpa = one(objects, "HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                 "name": name}
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        pdb = one(objects, "PodDisruptionBudget", name)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert "maxUnavailable" in pdb["spec"], f"{name}: minAvailable could block drains"


def test_nameko_services_use_exec_probes_pod_local_for_liveness() -> None:
    objects = kustomize("prod")
    for service in SERVICES:
        container = app(objects, service)["containers"][0]
        ping = ["python", "/app/deploy/probes/ping.py", "service", service]
        assert container["livenessProbe"]["exec"]["command"] == [*ping, "--local-only"]
        assert container["startupProbe"]["exec"]["command"] == [*ping, "--local-only"]
        assert container["readinessProbe"]["exec"]["command"] == ping


def test_gateway_liveness_is_healthz_and_readiness_ignores_other_services() -> None:
    container = app(kustomize("prod"), "gateway")["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["exec"]["command"] == [
        "python", "/app/deploy/probes/ping.py", "gateway"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_is_exposed(overlay: str) -> None:
    objects = kustomize(overlay)
    policies = find(objects, "NetworkPolicy")
    deny = one(objects, "NetworkPolicy", "default-deny")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            if not rule.get("from"):  # open to all: the gateway, and the web front end
                assert policy["spec"]["podSelector"] in (
                    {"matchLabels": {"app.kubernetes.io/name": "gateway"}},
                    {"matchLabels": {"app.kubernetes.io/name": "web"}}), policy["metadata"]
            for peer in rule.get("from", []):
                if policy["metadata"]["name"] == "gateway-ingress":
                    continue  # prod: from the ingress controller's namespace
                if policy["metadata"]["name"] == "metrics-scrape":
                    # Prometheus's namespace, on the /metrics ports only.
                    assert set(peer) == {"namespaceSelector"}, policy
                    assert rule["ports"] == [{"protocol": "TCP", "port": "metrics"},
                                             {"protocol": "TCP", "port": "http"}], policy
                    continue
                assert set(peer) == {"podSelector"}, f"in-namespace pods only: {policy}"
    for service in find(objects, "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]
    app_services = {s["metadata"]["name"] for s in find(objects, "Service")} & set(APP_COMPONENTS)
    assert app_services == {"gateway"}
    for ingress in find(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] == "gateway"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_in_another_pod_can_scrape_every_component(overlay: str) -> None:
    """/metrics listens on the pod's address, on the port the pod declares and annotates, and
    the metrics-scrape NetworkPolicy lets Prometheus's namespace reach that port by name."""
    objects = kustomize(overlay)
    policy = one(objects, "NetworkPolicy", "metrics-scrape")["spec"]
    (selector,) = policy["podSelector"]["matchExpressions"]
    assert selector["key"] == "app.kubernetes.io/name" and selector["operator"] == "In"
    assert set(selector["values"]) == set(APP_COMPONENTS)
    allowed = {port["port"] for rule in policy["ingress"] for port in rule["ports"]}
    for name in APP_COMPONENTS:
        deployment = one(objects, "Deployment", name)["spec"]["template"]
        container = deployment["spec"]["containers"][0]
        config = {}  # ConfigMaps and literal values only: prod's Secrets are created outside git
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                config.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
        config.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
        if name in SERVICES:
            assert config.get("METRICS_HOST") == "0.0.0.0", name
            port, port_name = metrics_port(name, config), "metrics"
        else:
            port, port_name = int(config["GATEWAY_PORT"]), "http"
        assert port is not None, f"{name}: metrics turned off"
        assert {"name": port_name, "containerPort": port} in container["ports"], name
        assert port_name in allowed, name
        assert deployment["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true", "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics"}, name


def test_the_kubernetes_scrape_config_names_the_jobs_the_alerts_select() -> None:
    observability = ROOT / "deploy/observability"
    static = yaml.safe_load((observability / "prometheus.yml").read_text())
    config = yaml.safe_load((observability / "prometheus-kubernetes.yml").read_text())
    assert config["rule_files"] == static["rule_files"]
    (job,) = config["scrape_configs"]
    relabel = {r.get("target_label"): r for r in job["relabel_configs"]}
    assert relabel["job"]["source_labels"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    # web's metrics port and scrape annotations come with the monitoring component (its tests).
    jobs = {relabel["job"]["replacement"].replace("$1", name) for name in (*APP_COMPONENTS, "web")}
    assert jobs == {j["job_name"] for j in static["scrape_configs"]}
    namespaces = {ns["metadata"]["name"]
                  for overlay in OVERLAYS for ns in find(kustomize(overlay), "Namespace")}
    assert set(job["kubernetes_sd_configs"][0]["namespaces"]["names"]) == namespaces
    (rule,) = one(kustomize("prod"), "NetworkPolicy", "metrics-scrape")["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "monitoring"}}}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_commands_are_deploy_local_run_py_commands(overlay: str) -> None:
    objects = kustomize(overlay)
    expected = run_py_commands()
    for name in APP_COMPONENTS:
        assert local_argv(argv_of(app(objects, name)["containers"][0])) == expected["run"][name]
    for service in SERVICES:
        job = one(objects, "Job", f"migrate-{service}")["spec"]["template"]["spec"]
        assert local_argv(argv_of(job["containers"][0])) == expected["migrate"][service]
        assert [e["name"] for e in job["containers"][0]["env"]] == [
            f"{service.upper()}_DATABASE_URL"], "a migration gets its database URL only"
        init = app(objects, service)["initContainers"][0]
        assert argv_of(init)[:3] == ["python", "/app/deploy/probes/migrated.py",
                                     f"services/{service}/alembic.ini"]


def test_dev_runs_its_own_backing_servers_and_prod_none() -> None:
    dev, prod = kustomize("dev"), kustomize("prod")
    assert {s["metadata"]["name"] for s in find(dev, "StatefulSet")} == {"rabbitmq", "postgres"}
    assert {d["metadata"]["name"] for d in find(dev, "Deployment")} == {
        *APP_COMPONENTS, "web", "redis"}
    assert not find(prod, "StatefulSet")
    assert {d["metadata"]["name"] for d in find(prod, "Deployment")} == {*APP_COMPONENTS, "web"}


def test_prod_generates_no_secret_and_each_referenced_secret_has_an_example() -> None:
    prod, dev = kustomize("prod"), kustomize("dev")
    assert not find(prod, "Secret"), "production Secrets are created outside git"
    referenced = set()
    for _, template in pods(prod):
        spec = template["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            referenced |= {s["secretRef"]["name"] for s in container.get("envFrom", [])
                           if "secretRef" in s}
            referenced |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                           if "secretKeyRef" in e.get("valueFrom", {})}
    assert referenced == {f"{c}-secrets" for c in (*APP_COMPONENTS, "web")}
    for name in referenced:
        example = ROOT / "deploy/env" / f"k8s-{name}.env.example"
        keys = {line.split("=", 1)[0] for line in example.read_text().splitlines()
                if line.strip() and not line.startswith("#")}
        # Production requires signing keys; dev lets auth generate a development key.
        assert keys - set(secret_data(generated(dev, "Secret", name))) <= {"AUTH_SIGNING_KEYS"}
        assert set(secret_data(generated(dev, "Secret", name))) <= keys, name


def test_dev_credentials_agree_between_servers_and_clients() -> None:
    dev = kustomize("dev")
    postgres = secret_data(generated(dev, "Secret", "postgres-secrets"))
    rabbitmq = secret_data(generated(dev, "Secret", "rabbitmq-secrets"))
    redis = secret_data(generated(dev, "Secret", "redis-secrets"))
    for component in APP_COMPONENTS:
        secrets = secret_data(generated(dev, "Secret", f"{component}-secrets"))
        password = rabbitmq[f"{component.upper()}_AMQP_PASSWORD"]
        assert f"amqp://{component}:{password}@rabbitmq:5672/suite" == secrets["AMQP_URI"]
        if component in SERVICES:
            password = postgres[f"{component.upper()}_DB_PASSWORD"]
            assert f"{component}:{password}@postgres:5432/{component}" in \
                secrets[f"{component.upper()}_DATABASE_URL"]
    assert secret_data(generated(dev, "Secret", "gateway-secrets"))["REDIS_URL"] == \
        f"redis://:{redis['REDIS_PASSWORD']}@redis:6379/0"


def test_dev_postgres_init_is_the_compose_one() -> None:
    """One file: the dev overlay's ConfigMap is generated from the file compose mounts, and no
    copy of it lives under deploy/k8s."""
    sql = ROOT / "deploy/postgres/init-roles.sql"
    volumes = compose_config()["services"]["postgres"]["volumes"]
    assert any(v.startswith(f"{sql}:/docker-entrypoint-initdb.d/") for v in volumes), volumes
    init = generated(kustomize("dev"), "ConfigMap", "postgres-init")
    assert init["data"] == {"init-roles.sql": sql.read_text()}
    assert not list(K8S.rglob("*.sql"))


Spec = dict[str, Any]


def _containers(objects: list[Spec]) -> dict[str, tuple[Spec, parity.Container]]:
    found = {}
    for name in APP_COMPONENTS:
        spec = app(objects, name)["containers"][0]
        found[name] = (spec, parity.Container(name, argv_of(spec), env_of(objects, spec)))
    return found


def _run_probe(launcher: parity.Launcher, spec: dict[str, Any], container: parity.Container,
               probe: str) -> tuple[bool, str]:
    definition = spec[probe]
    if "exec" in definition:
        result = launcher.probe(definition["exec"]["command"], container)
        return result.returncode == 0, result.stderr
    path = definition["httpGet"]["path"]
    reply = httpx.get(f"http://127.0.0.1:{launcher.sandbox.port}{path}", timeout=5)
    return reply.status_code < 400, reply.text


@pytest.mark.timeout(900)
def test_parity_the_dev_overlay_runs_serves_and_its_probes_hold(tmp_path) -> None:
    objects = kustomize("dev")
    containers = _containers(objects)
    with parity.sandboxed(tmp_path) as launcher:
        inits = {s: app(objects, s)["initContainers"][0] for s in SERVICES}
        # Before the migration Jobs, each service's init container holds its pods back.
        for service, init in inits.items():
            argv = argv_of(init)
            argv[argv.index("--wait") + 1] = "0"
            result = launcher.probe(argv, parity.Container(service, argv, env_of(objects, init)))
            assert result.returncode == 1, f"{service}: {result.stdout} {result.stderr}"
        jobs = [one(objects, "Job", f"migrate-{s}")["spec"]["template"]["spec"]["containers"][0]
                for s in SERVICES]
        launcher.run_once(*(parity.Container(f"migrate-{service}", argv_of(job),
                                             env_of(objects, job))
                            for service, job in zip(SERVICES, jobs, strict=True)))
        launcher.run_once(*(parity.Container(f"{service}-init", argv_of(init),
                                             env_of(objects, init))
                            for service, init in inits.items()), timeout=120)
        for service in SERVICES:
            launcher.start(containers[service][1])
        launcher.start(containers["gateway"][1])
        url = f"http://127.0.0.1:{launcher.sandbox.port}"
        launcher.wait_ready(url)
        assert httpx.get(f"{url}/openapi.json", timeout=10).status_code == 200

        for name, (spec, container) in containers.items():
            for probe in PROBES:
                ok, detail = _run_probe(launcher, spec, container, probe)
                assert ok, f"{name} {probe}: {detail}"

        # One service down: /readyz says so, but the gateway stays ready and alive (no flap),
        # and so do the other services; only the stopped one's own readiness fails.
        launcher.stop("payments")
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/readyz", timeout=5).status_code != 503:
            assert time.monotonic() < deadline, "/readyz never noticed payments was gone"
            time.sleep(0.5)
        gateway_spec, gateway = containers["gateway"]
        for probe in ("readinessProbe", "livenessProbe"):
            ok, detail = _run_probe(launcher, gateway_spec, gateway, probe)
            assert ok, f"gateway {probe} with payments down: {detail}"
        ok, _ = _run_probe(launcher, *containers["auth"], "readinessProbe")
        assert ok
        ok, _ = _run_probe(launcher, *containers["payments"], "readinessProbe")
        assert not ok


def test_dev_secrets_are_generated_never_committed() -> None:
    """No password in git: the dev Secrets come from generate.py (fresh random values)."""
    tracked = subprocess.run(["git", "ls-files", str(K8S / "overlays/dev/secrets")], cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=30).stdout.split()
    assert not [path for path in tracked if path.endswith(".env")], tracked
    assert "*.env" in (K8S / "overlays/dev/secrets/.gitignore").read_text().split()
    auth = secret_data(generated(kustomize("dev"), "Secret", "auth-secrets"))
    assert not auth["ADMIN_PASSWORD"].startswith(("dev-", "example-"))
    assert json.loads(auth["AUTH_SIGNING_KEYS"])[0]["private_key"].startswith(
        "-----BEGIN PRIVATE KEY-----")


def test_prod_requires_signing_keys_and_trusts_forwarded_for_from_the_ingress_only() -> None:
    prod = kustomize("prod")
    assert generated(prod, "ConfigMap", "suite-config")["data"][
        "AUTH_REQUIRE_SIGNING_KEYS"] == "true"
    assert "FORWARDED_ALLOW_IPS" not in generated(prod, "ConfigMap", "gateway-config")["data"]
    rule = one(prod, "NetworkPolicy", "gateway-ingress")["spec"]["ingress"][0]
    assert [set(peer) for peer in rule["from"]] == [{"namespaceSelector"}]
