"""FIXTURE for the container test, standing in for Grafana on :3000. At start it reads what
Grafana would provision (data sources, dashboard providers and their dashboard files, the home
dashboard named by GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH) and exits 1 if any is missing or
does not parse. Serves `/api/health`, `/api/datasources` and `/api/search` (titles) from them."""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

PROVISIONING = Path("/etc/grafana/provisioning")


def provisioned() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    sources = [source for file in sorted((PROVISIONING / "datasources").glob("*.yaml"))
               for source in yaml.safe_load(file.read_text())["datasources"]]
    folders = [Path(p["options"]["path"]) for file in (PROVISIONING / "dashboards").glob("*.yaml")
               for p in yaml.safe_load(file.read_text())["providers"]]
    files = [f for folder in folders for f in sorted(folder.glob("*.json"))]
    home = os.environ.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home and Path(home) not in files:
        files.append(Path(home))
    dashboards = [{"title": json.loads(f.read_text())["title"], "path": str(f)} for f in files]
    if not sources or not dashboards:
        raise SystemExit(f"nothing provisioned: {sources} {dashboards}")
    return sources, dashboards


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        answers = {"/api/health": {"database": "ok", "version": "fixture"},
                   "/api/datasources": SOURCES, "/api/search": DASHBOARDS}
        body = json.dumps(answers.get(self.path.split("?")[0], {})).encode()
        self.send_response(200 if self.path.split("?")[0] in answers else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    try:
        SOURCES, DASHBOARDS = provisioned()
    except (OSError, KeyError, ValueError, yaml.YAMLError) as error:
        print(f"grafana stand-in: bad provisioning: {error!r}", file=sys.stderr)
        sys.exit(1)
    print(f"grafana stand-in (fixture): {len(SOURCES)} data sources, "
          f"{len(DASHBOARDS)} dashboards", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 3000), Handler).serve_forever()
