"""Keep the suite's processes running, like compose's `restart: unless-stopped`.

A child that exits on its own is restarted after a backoff (0.25 s, doubling, at most 8 s) while
the others keep serving; one that ran for STABLE_SECONDS starts again from the shortest wait. A
child that dies within START_WINDOW of its start GIVE_UP_AFTER times in a row is given up on: it
will not start by itself (bad configuration, a port taken), and its own log lines say why.
Each child runs in its own session, so a terminal's Ctrl-C reaches only the supervisor, which
then asks every child to stop (SIGTERM) and kills what is still alive after the grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# A service kills its own container STOP_TIMEOUT (5 s) after SIGTERM and exits 1-3 s later
# (shared.nameko.shutdown); SIGKILL only if that failed too.
GRACE_SECONDS = 8.0
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 8.0
STABLE_SECONDS = 30.0
START_WINDOW = 15.0
GIVE_UP_AFTER = 5


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[str] | None = None
    started: float = 0.0
    quick_crashes: int = 0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None
    given_up: bool = False
    restarts: int = field(default=0)


def say(message: str) -> None:
    print(f"run: {message}", file=sys.stderr, flush=True)


def pump(prefix: str, stream: object) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


class Supervisor:
    def __init__(self, env: dict[str, str], commands: dict[str, list[str]],
                 env_for: Callable[[dict[str, str], str], dict[str, str]] | None = None) -> None:
        self.env = env
        self.env_for = env_for or (lambda env, name: env)
        self.children = [Child(name, argv) for name, argv in commands.items()]
        self.width = max(len(name) for name in commands)
        self.stopping = threading.Event()

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        process = subprocess.Popen(child.argv, env=self.env_for(self.env, child.name),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        child.process, child.started, child.restart_at = process, time.monotonic(), None
        threading.Thread(target=pump, args=(f"{child.name:<{self.width}} | ", process.stdout),
                         daemon=True).start()

    def watch(self) -> int:
        """Until stop is requested; non-zero if every child was given up on."""
        while not self.stopping.wait(0.2):
            for child in self.children:
                self._tend(child, time.monotonic())
            if all(child.given_up for child in self.children):
                say("every process was given up on; stopping")
                return 1
        return 0

    def _tend(self, child: Child, now: float) -> None:
        if child.given_up:
            return
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)
            return
        assert child.process is not None
        code = child.process.poll()
        if code is None:
            return
        self._on_exit(child, code, now)

    def _on_exit(self, child: Child, code: int, now: float) -> None:
        ran = now - child.started
        if ran >= STABLE_SECONDS:
            child.backoff = FIRST_BACKOFF
        child.quick_crashes = child.quick_crashes + 1 if ran < START_WINDOW else 0
        if child.quick_crashes >= GIVE_UP_AFTER:
            child.given_up = True
            say(f"{child.name} exited with {code} {child.quick_crashes} times in a row within "
                f"{START_WINDOW:.0f} s of starting; giving up on it (its log above says why). "
                "The rest keep running; fix it and restart `make run`")
            return
        child.restart_at = now + child.backoff
        say(f"{child.name} exited with {code} after {ran:.1f} s; restarting it in "
            f"{child.backoff:g} s (the rest keep running)")
        child.backoff = min(MAX_BACKOFF, child.backoff * 2)

    def stop(self) -> None:
        self.stopping.set()
        alive = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in alive:
            _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for process in alive:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
                process.wait()


def _signal(process: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
