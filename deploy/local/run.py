"""`make run`: prepare, start every service and the gateway, prefix their logs, stop them all.

Each child runs in its own session so a terminal's Ctrl-C reaches only this supervisor, which
then asks every child to stop (SIGTERM) and kills what is still alive after the grace period.
If any child dies on its own, the rest are stopped too and the exit code is non-zero.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prepare import ROOT, SERVICES, NotReachable, prepare

# A service kills its own container STOP_TIMEOUT (5 s) after SIGTERM and exits 1-3 s later
# (shared.nameko.shutdown); SIGKILL only if that failed too.
GRACE_SECONDS = 10.0
BIN = Path(sys.executable).parent


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


def pump(name: str, stream: object, width: int) -> None:
    prefix = f"{name:<{width}} | "
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


class Supervisor:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: dict[str, subprocess.Popen[str]] = {}
        self.stopping = threading.Event()

    def start(self) -> None:
        width = max(len(name) for name in commands())
        for name, argv in commands().items():
            child = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
            self.children[name] = child
            threading.Thread(target=pump, args=(name, child.stdout, width), daemon=True).start()

    def watch(self) -> int:
        while not self.stopping.wait(0.2):
            for name, child in self.children.items():
                if child.poll() is not None:
                    print(f"run: {name} exited with {child.returncode}; stopping the suite",
                          file=sys.stderr)
                    self.stop()
                    return 1
        return 0

    def stop(self) -> None:
        self.stopping.set()
        for child in self.children.values():
            _signal(child, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in self.children.values():
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(child, signal.SIGKILL)
                child.wait()


def _signal(child: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signum)


def main() -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # eventlet warns about its own deprecation at import; nameko 2.14 has no other loop.
    env.setdefault("PYTHONWARNINGS", "ignore::Warning:nameko.cli.commands")
    try:
        prepare(env)
    except NotReachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # web: the gateway this run starts, unless WEB_API_URL points elsewhere.
    env.setdefault("WEB_API_URL", f"http://127.0.0.1:{env.get('GATEWAY_PORT', '8000')}")
    supervisor = Supervisor(env)
    stop_requested = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop_requested.set()
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    supervisor.start()
    code = supervisor.watch()
    if stop_requested.is_set():
        supervisor.stop()
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
