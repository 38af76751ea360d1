"""deploy/k8s/components/monitoring: Prometheus Operator objects for the suite, validated against
the operator's CRD schemas vendored in tests/observability/crds/ (README there)."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.support import KUBECTL, kustomize
from tests.support import infra

COMPONENT = infra.ROOT / "deploy" / "k8s" / "components" / "monitoring"
SCHEMAS = Path(__file__).resolve().parent / "crds"
OBSERVABILITY = infra.ROOT / "deploy" / "observability"


@cache
def with_monitoring(overlay: str, tmp: str) -> list[dict[str, Any]]:
    """The overlay with the component added (in the overlay's namespace), as
    `kubectl kustomize` renders it."""
    root, overlay_dir = Path(tmp), infra.ROOT / "deploy" / "k8s" / "overlays" / overlay
    namespace = yaml.safe_load((overlay_dir / "kustomization.yaml").read_text())["namespace"]
    (root / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": namespace,
        "resources": [os.path.relpath(overlay_dir, root)],
        "components": [os.path.relpath(COMPONENT, root)]}))
    done = subprocess.run([KUBECTL, "kustomize", str(root)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=["dev", "prod"])
def rendered(request, tmp_path_factory) -> tuple[str, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp(f"monitoring-{request.param}")
    return request.param, with_monitoring(request.param, str(tmp))


def validator(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / f"{kind.lower()}.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def monitoring_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["apiVersion"].startswith("monitoring.coreos.com/")]


def test_the_component_adds_podmonitors_and_the_rules_that_validate(rendered):
    overlay, objects = rendered
    found = monitoring_objects(objects)
    assert sorted(o["kind"] for o in found) == ["PodMonitor"] * 3 + ["PrometheusRule"]
    namespace = next(o["metadata"]["namespace"] for o in objects if o["kind"] == "Deployment")
    for obj in found:
        errors = sorted(validator(obj["kind"]).iter_errors(obj), key=str)
        assert not errors, f"{overlay} {obj['kind']} {obj['metadata']['name']}: {errors[0]}"
        assert obj["metadata"]["namespace"] == namespace  # next to the pods it watches
    # Everything else is exactly the overlay without the component, but for web's metrics port
    # (its annotations, the port, the NetworkPolicy that lets the monitoring namespace in).
    rest = copy.deepcopy([o for o in objects if o not in found])  # the render is cached
    (policy,) = [o for o in rest if o["metadata"]["name"] == "web-metrics-scrape"]
    assert policy["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": "metrics"}]
    rest.remove(policy)
    web = next(o for o in rest if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
    template = web["spec"]["template"]
    assert template["metadata"].pop("annotations") == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "9104",
        "prometheus.io/path": "/metrics"}
    ports = template["spec"]["containers"][0]["ports"]
    ports.remove({"name": "metrics", "containerPort": 9104})
    assert rest == kustomize(overlay)


def test_the_schemas_refuse_what_the_api_server_would():
    podmonitor = yaml.safe_load_all((COMPONENT / "podmonitors.yaml").read_text()).__next__()
    check = validator("PodMonitor")
    assert not list(check.iter_errors(podmonitor))
    typo = copy.deepcopy(podmonitor)
    typo["spec"]["podMetricEndpoints"] = typo["spec"].pop("podMetricsEndpoints")
    assert list(check.iter_errors(typo))
    wrong = copy.deepcopy(podmonitor)
    wrong["spec"]["podMetricsEndpoints"][0]["relabelings"][0]["action"] = "rename"
    assert list(check.iter_errors(wrong))
    rule = yaml.safe_load((COMPONENT / "prometheusrule.yaml").read_text())
    broken = copy.deepcopy(rule)
    broken["spec"]["groups"][0]["rules"][0]["labels"] = ["severity"]
    assert list(validator("PrometheusRule").iter_errors(broken))


def test_every_suite_pod_is_scraped_as_the_job_the_rules_name(rendered):
    _, objects = rendered
    monitors = [o for o in objects if o["kind"] == "PodMonitor"]
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    (down,) = [r for g in rules["groups"] for r in g["rules"] if r["alert"] == "ServiceDown"]
    jobs = re.search(r'job=~"([^"]+)"', down["expr"]).group(1)
    apps = [o for o in objects if o["kind"] == "Deployment"
            and o["spec"]["template"]["metadata"]["labels"].get(
                "app.kubernetes.io/part-of") == "commerce-suite"]
    assert {a["metadata"]["name"] for a in apps} >= {"gateway", "auth", "catalog", "payments",
                                                     "web"}
    for app in apps:
        labels = app["spec"]["template"]["metadata"]["labels"]
        (monitor,) = [m for m in monitors
                      if m["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        ports = {p["name"] for c in app["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])}
        assert endpoint["port"] in ports, app["metadata"]["name"]
        (job,) = [r for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
        name = labels["app.kubernetes.io/name"]
        value = job["replacement"].replace("$1", name)
        assert value == f"suite-{name}" and re.fullmatch(jobs, value)


def test_the_prometheusrule_is_alerts_yaml():
    sys.path.insert(0, str(OBSERVABILITY))
    try:
        import prometheusrule
    finally:
        sys.path.remove(str(OBSERVABILITY))
    written = (COMPONENT / "prometheusrule.yaml").read_text()
    assert written == prometheusrule.render(), "run deploy/observability/prometheusrule.py"
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    assert yaml.safe_load(written)["spec"]["groups"] == rules["groups"]
