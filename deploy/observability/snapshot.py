"""The pictures of docs/observability.md, from a real run: the suite (as `make run` starts it, on
a throwaway vhost and databases), Prometheus (Debian's `prometheus` binary) scraping it every
2 s with alerts.yaml loaded, and an OTLP receiver; a few minutes of shop traffic (reads,
checkouts that succeed, are declined or run out of stock, refunds); then some of the dashboard's
panels, drawn from Prometheus' query_range answers, and one checkout's trace, drawn from the
spans the processes exported, as SVG files in docs/observability/.

    .venv/bin/python deploy/observability/snapshot.py [--minutes 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD  # noqa: E402
from deploy.observability import svg  # noqa: E402
from deploy.observability.traffic import Shop  # noqa: E402
from tests.observability.support import Collector  # noqa: E402
from tests.support import infra  # noqa: E402
from tests.support.suite import free_port, running_suite  # noqa: E402

OUT = ROOT / "docs" / "observability"
SERVICES = ("auth", "catalog", "payments")
DASHBOARD = ROOT / "deploy" / "observability" / "grafana-dashboard.json"
PANELS = ("Requests per second by route", "Latency p50 / p99 by route",
          "RPC latency p99 by service and method", "Checkouts by outcome", "Declines by code",
          "Pending payments", "Reservations", "Ledger reconciliation")


def prometheus(ports: dict[str, int], gateway: str,
               tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    targets = {"gateway": gateway, **{s: f"127.0.0.1:{p}" for s, p in ports.items()}}
    jobs = [{"job_name": f"suite-{name}", "static_configs": [{"targets": [target]}]}
            for name, target in targets.items()]
    (tmp / "alerts.yaml").write_text((ROOT / "deploy/observability/alerts.yaml").read_text())
    (tmp / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "rule_files": ["alerts.yaml"], "scrape_configs": jobs}))
    port = free_port()
    process = subprocess.Popen(
        ["prometheus", f"--config.file={tmp / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def panels() -> list[dict[str, Any]]:
    found = {p["title"]: p for p in json.loads(DASHBOARD.read_text())["panels"]}
    return [found[title] for title in PANELS]


def query_range(base: str, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/api/v1/query_range", params={
        "query": expr.replace("[5m]", "[30s]").replace("[15m]", "[1m]").replace("[1h]", "[2m]"),
        "start": start, "end": end, "step": 4}, timeout=30).json()
    return answer["data"]["result"] if answer.get("status") == "success" else []


def draw_panels(base: str, start: float, end: float) -> list[str]:
    written = []
    for panel in panels():
        series = []
        for target in panel["targets"]:
            for result in query_range(base, target["expr"], start, end):
                label = target.get("legendFormat", "")
                for key, value in result["metric"].items():
                    label = label.replace("{{" + key + "}}", value)
                series.append((label or "value", [(float(t), float(v))
                                                  for t, v in result["values"]]))
        name = "panel-" + "".join(c if c.isalnum() else "-" for c in panel["title"].lower())
        path = OUT / f"{name.strip('-')}.svg"
        path.write_text(svg.chart(panel["title"], series, panel["fieldConfig"]["defaults"]
                                  .get("unit", "short")))
        written.append(path.name)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    name = infra.unique("snapshot")
    urls = {s: infra.create_database(f"{name}_{s}") for s in SERVICES}
    ports = {s: free_port() for s in SERVICES}
    env = {**os.environ, "AMQP_URI": infra.create_vhost(name), "RATE_LIMIT_ENABLED": "false",
           "PYTHONUNBUFFERED": "1", "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD,
           **{f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()},
           "METRICS_REFRESH_SECONDS": "2",
           "PAYMENTS_RECONCILE_SECONDS": "10", "OTEL_BSP_SCHEDULE_DELAY": "500",
           **{f"{s.upper()}_METRICS_PORT": str(p) for s, p in ports.items()}}
    try:
        with Collector() as collector, tempfile.TemporaryDirectory() as tmp:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.url
            with running_suite(env, Path(tmp) / "suite.log") as suite:
                process, base = prometheus(ports, suite.url.removeprefix("http://"), Path(tmp))
                try:
                    shop = Shop(suite.url, ADMIN_EMAIL, ADMIN_PASSWORD)
                    start = time.time()
                    trace_id = shop.run(args.minutes * 60)
                    time.sleep(6)
                    written = draw_panels(base, start, time.time())
                finally:
                    process.terminate()
                    process.wait(30)
            spans = [s for s in collector.spans() if s["traceId"] == trace_id]
            (OUT / "trace-checkout.svg").write_text(svg.trace(spans))
            written.append("trace-checkout.svg")
    finally:
        infra.delete_vhost(name)
        for service in SERVICES:
            infra.drop_database(f"{name}_{service}")
    print("\n".join(f"docs/observability/{w}" for w in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
