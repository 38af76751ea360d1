"""`make demo`: a demo catalog and two demo customers in the suite `make run` is running.

Products go in through the catalog's own seeding path (catalog.seed, events recorded); the
customers register through the public API like anyone else. Run it again and it adds nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from first_run import wait_ready
from run import gateway_url

PRODUCTS = 24
CUSTOMERS = (("ada@example.com", "Ada"), ("grace@example.com", "Grace"))


def call(method: str, url: str, body: dict[str, object] | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def seed_catalog(base: str, env: dict[str, str]) -> str:
    status, page = call("GET", f"{base}/products?limit=1")
    if status == 200 and isinstance(page, dict) and page.get("items"):
        return "catalog: it already has products; nothing added"
    subprocess.run([sys.executable, "-m", "catalog.seed", str(PRODUCTS), "--random-seed", "7"],
                   env=env, check=True, capture_output=True)
    return f"catalog: {PRODUCTS} demo products added (GET {base}/products)"


def register(base: str, email: str, name: str) -> str:
    password = secrets.token_urlsafe(12)
    status, body = call("POST", f"{base}/auth/register",
                        {"email": email, "password": password, "display_name": name})
    if status == 201:
        return f"customer: {email} / {password}"
    if status == 409:
        return f"customer: {email} already exists (its password was printed when it was made)"
    raise SystemExit(f"error: registering {email} failed with {status}: {body}")


def main() -> int:
    env = dict(os.environ)
    base = gateway_url(env)
    if not wait_ready(base, 60, threading.Event()):
        print(f"error: no suite answers at {base}/readyz; start it with `make run` first "
              "(same GATEWAY_HOST/GATEWAY_PORT)", file=sys.stderr)
        return 2
    print(seed_catalog(base, env))
    for email, name in CUSTOMERS:
        print(register(base, email, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
