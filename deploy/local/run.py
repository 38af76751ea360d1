"""`make run`: prepare, start every service and the gateway, prefix their logs, keep them up.

A child that dies is restarted with backoff while the others keep serving (supervisor.py);
Ctrl-C or SIGTERM stops them all within GRACE_SECONDS. The first time, a development admin is
created (never in production mode) and its password printed once (first_run.py).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from broker_users import component_env
from first_run import banner, development_admin, wait_ready
from prepare import ROOT, SERVICES, NotReachable, prepare
from supervisor import Supervisor, say

BIN = Path(sys.executable).parent
READY_TIMEOUT = 120.0


def commands() -> dict[str, list[str]]:
    procs = {
        service: [str(BIN / "nameko"), "run", "--config",
                  str(ROOT / "services" / service / "config.yaml"),
                  f"{service}.service:{service.capitalize()}Service"]
        for service in SERVICES
    }
    procs["gateway"] = [sys.executable, "-m", "gateway"]
    # The storefront and admin console (issue 20): a client of the gateway, on WEB_PORT (8080).
    procs["web"] = [sys.executable, "-m", "web"]
    return procs


def gateway_url(env: dict[str, str]) -> str:
    host = env.get("GATEWAY_HOST", "127.0.0.1")
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    scheme = "https" if env.get("GATEWAY_TLS_CERT") else "http"
    return f"{scheme}://{shown}:{env.get('GATEWAY_PORT', '8000')}"


def announce(env: dict[str, str], sign_in: str, stopping: threading.Event) -> None:
    base = gateway_url(env)
    if wait_ready(base, READY_TIMEOUT, stopping):
        print(banner(base, sign_in), file=sys.stderr, flush=True)
    elif not stopping.is_set():
        say(f"the gateway did not become ready at {base}/readyz within {READY_TIMEOUT:.0f} s; "
            "see the log lines above")


def main() -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # eventlet warns about its own deprecation at import; nameko 2.14 has no other loop.
    env.setdefault("PYTHONWARNINGS", "ignore::Warning:nameko.cli.commands")
    try:
        prepare(env)
    except NotReachable as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    # web: the gateway this run starts, unless WEB_API_URL points elsewhere.
    env.setdefault("WEB_API_URL", f"http://127.0.0.1:{env.get('GATEWAY_PORT', '8000')}")
    sign_in = development_admin(env)
    supervisor = Supervisor(env, commands(), env_for=component_env)

    def on_signal(signum: int, frame: object) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    supervisor.start()
    threading.Thread(target=announce, args=(env, sign_in, supervisor.stopping),
                     daemon=True).start()
    code = supervisor.watch()
    supervisor.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
