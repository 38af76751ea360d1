"""Create the suite's vhost and one least-privilege RabbitMQ user per component (idempotent).

Speaks the management HTTP API (stdlib only), so it runs from the suite's image against the
compose/dev broker and, pointed at it, against a managed broker that exposes the same API.
The users, their configure/write/read regexes and their topic permissions (per exchange: which
routing keys each may publish and bind) are in permissions.json beside this file;
docs/deploy.md and docs/security.md explain them.

Environment:
  RABBITMQ_MANAGEMENT_URL   e.g. http://rabbitmq:15672
  RABBITMQ_ADMIN_USER, RABBITMQ_ADMIN_PASSWORD   an administrator (used only here)
  RABBITMQ_VHOST            overrides permissions.json's vhost
  <USER>_AMQP_PASSWORD      one per user in permissions.json, e.g. CATALOG_AMQP_PASSWORD
  PROVISION_TIMEOUT         seconds to wait for the API to come up (default 120)
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

PERMISSIONS = Path(__file__).resolve().parent / "permissions.json"


class Api:
    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=self.headers)
        with urllib.request.urlopen(request, timeout=10) as reply:
            raw = reply.read()
        return json.loads(raw) if raw else None

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("GET", "/api/overview")
                return
            except urllib.error.HTTPError as error:
                if error.code in (401, 403):
                    raise SystemExit(f"provision: the admin credentials are refused ({error.code})"
                                     ) from None
                last = f"HTTP {error.code}"
            except OSError as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise SystemExit(f"provision: management API not reachable: {last}")
            time.sleep(2)


def passwords(users: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    names = {user: f"{user.upper()}_AMQP_PASSWORD" for user in users}
    missing = [name for name in names.values() if not env.get(name)]
    if missing:
        raise SystemExit(f"provision: set {', '.join(missing)}")
    return {user: env[name] for user, name in names.items()}


def provision(api: Api, spec: dict[str, Any], secrets: dict[str, str]) -> None:
    vhost = quote(spec["vhost"], safe="")
    api.call("PUT", f"/api/vhosts/{vhost}", {"description": "commerce suite"})
    for user, regexes in spec["users"].items():
        api.call("PUT", f"/api/users/{quote(user, safe='')}",
                 {"password": secrets[user], "tags": ""})
        api.call("PUT", f"/api/permissions/{vhost}/{quote(user, safe='')}",
                 {key: regexes[key] for key in ("configure", "write", "read")})
        for exchange, topic in regexes.get("topic", {}).items():
            api.call("PUT", f"/api/topic-permissions/{vhost}/{quote(user, safe='')}",
                     {"exchange": exchange, "write": topic["write"], "read": topic["read"]})
        print(f"provision: user {user} on vhost {spec['vhost']}: ok", flush=True)


def main() -> int:
    env = dict(os.environ)
    spec = json.loads(PERMISSIONS.read_text())
    spec["vhost"] = env.get("RABBITMQ_VHOST") or spec["vhost"]
    secrets = passwords(spec["users"], env)
    api = Api(env.get("RABBITMQ_MANAGEMENT_URL", "http://rabbitmq:15672"),
              env.get("RABBITMQ_ADMIN_USER", ""), env.get("RABBITMQ_ADMIN_PASSWORD", ""))
    api.wait(float(env.get("PROVISION_TIMEOUT", "120")))
    provision(api, spec, secrets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
