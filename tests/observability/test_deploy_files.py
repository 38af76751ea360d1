"""deploy/observability/ is well formed on its own (the suite test checks its metric names)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.support import infra

FILES = infra.ROOT / "deploy" / "observability"
RUNBOOKS = "docs/operations.md#"


def test_the_dashboard_is_grafana_json_with_a_query_per_target():
    dashboard = json.loads((FILES / "grafana-dashboard.json").read_text())
    panels = dashboard["panels"]
    assert dashboard["uid"] and dashboard["title"] and panels
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in (p for p in panels if p["type"] != "row"):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource"}


def test_every_alert_rule_is_complete():
    rules = yaml.safe_load((FILES / "alerts.yaml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    names = [rule["alert"] for rule in alerts]
    assert len(set(names)) == len(names)
    assert {"GatewayHigh5xxRatio", "GatewayHighP99Latency", "OutboxLagging", "DeadLetters",
            "CircuitBreakerOpen", "ServiceDown"} <= set(names)
    for rule in alerts:
        assert rule["expr"].strip() and re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["runbook_url"] == RUNBOOKS + rule["alert"].lower()


def anchors(markdown: str) -> set[str]:
    """The anchors a Markdown renderer gives the headings (GitHub's rule)."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in markdown.splitlines() if line.startswith("#")}


def test_every_runbook_url_is_a_section_of_the_operations_guide():
    rules = yaml.safe_load((FILES / "alerts.yaml").read_text())
    sections = anchors((infra.ROOT / "docs" / "operations.md").read_text())
    for rule in (r for group in rules["groups"] for r in group["rules"]):
        assert rule["annotations"]["runbook_url"].split("#")[1] in sections, rule["alert"]


@pytest.mark.parametrize("command", [["check", "rules", "alerts.yaml"],
                                     ["test", "rules", "alerts.test.yaml"]])
def test_promtool_checks_the_rules_and_their_unit_tests(command):
    promtool = shutil.which("promtool")
    if promtool is None and not os.environ.get("CI"):
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    assert promtool, "CI installs promtool (Debian's prometheus package)"
    result = subprocess.run([promtool, *command], cwd=FILES, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_scrape_config_loads_the_rules_and_has_the_jobs_they_name():
    config = yaml.safe_load((FILES / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yaml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"suite-gateway", "suite-auth", "suite-catalog", "suite-payments", "suite-web"}
    rules = yaml.safe_load((FILES / "alerts.yaml").read_text())
    (down,) = [r for g in rules["groups"] for r in g["rules"] if r["alert"] == "ServiceDown"]
    pattern = re.search(r'job=~"([^"]+)"', down["expr"]).group(1)
    assert all(re.fullmatch(pattern, job) for job in jobs)


def test_the_compose_observability_profile_scrapes_every_component_and_exports_traces():
    from tests.deploy.support import compose, compose_config

    checked = compose("--profile", "observability", "--profile", "ops", "config", "-q")
    assert checked.returncode == 0, checked.stderr
    services = compose_config()["services"]
    profiled = {name for name, spec in services.items() if spec.get("profiles")}
    assert profiled == {"prometheus", "grafana", "jaeger", "postgres-exporter",
                        "redis-exporter", "ops", "loadtest"}
    assert all(services[name]["profiles"] == ["observability"]
               for name in profiled - {"ops", "loadtest"})

    mounts = {name: dict(volume_of(v) for v in services[name].get("volumes", []))
              for name in ("prometheus", "grafana")}
    config = yaml.safe_load((FILES / "prometheus-compose.yml").read_text())
    assert mounts["prometheus"]["/etc/prometheus/prometheus.yml"].endswith(
        "deploy/observability/prometheus-compose.yml")
    assert mounts["prometheus"]["/etc/prometheus/alerts.yaml"].endswith("alerts.yaml")
    assert config["rule_files"] == ["alerts.yaml"]
    targets = {job["job_name"]: job for job in config["scrape_configs"]}
    for component, port in (("gateway", 8000), ("auth", 9101), ("catalog", 9102),
                            ("payments", 9103), ("web", 9104)):
        (found,) = targets[f"suite-{component}"]["dns_sd_configs"]  # every replica
        assert found == {"names": [component], "type": "A", "port": port}
        assert component in services and "backend" in services[component]["networks"]
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in services[component]["environment"]
    assert {"rabbitmq", "postgres", "redis"} <= set(targets)
    assert "4318" in [str(p) for p in services["jaeger"]["expose"]]

    provisioning = FILES / "grafana" / "provisioning"
    (dashboards,) = yaml.safe_load((provisioning / "dashboards" / "suite.yaml").read_text())[
        "providers"]
    assert mounts["grafana"]["/etc/grafana/provisioning"].endswith(str(provisioning.relative_to(
        infra.ROOT)))
    dashboard_mount = next(t for t, s in mounts["grafana"].items() if s.endswith(
        "grafana-dashboard.json"))
    assert dashboard_mount.startswith(dashboards["options"]["path"] + "/")
    sources = yaml.safe_load((provisioning / "datasources" / "suite.yaml").read_text())
    assert {s["type"] for s in sources["datasources"]} == {"prometheus", "jaeger"}
    assert services["ops"]["entrypoint"] == ["suite-ops"]


def volume_of(volume: Any) -> tuple[str, str]:
    """(target, source) of a volume as `docker-compose config` prints it (short or long)."""
    if isinstance(volume, dict):
        return volume["target"], volume["source"]
    source, target = volume.split(":")[:2]
    return target, source
