"""Child processes the run owns: each in its own session (process group), logs to a file, and a
supervisor that restarts whatever dies (killed by the nemesis or crashed) until told to stop.

Only process groups started here are ever signalled: never anything found by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GRACE_SECONDS = 10.0
RESTART_DELAY = 0.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def wait_for(check: Callable[[], bool], timeout: float, what: str, step: float = 0.25) -> float:
    """Poll `check` until true; returns the seconds it took, raises TimeoutError after `timeout`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(step)
    return time.monotonic() - started


def signal_group(process: subprocess.Popen[bytes] | None, signum: int) -> None:
    if process is not None and process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)


def terminate(process: subprocess.Popen[bytes] | None, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the group, SIGKILL it after `grace` seconds; also resumes a stopped group."""
    if process is None:
        return
    signal_group(process, signal.SIGCONT)
    signal_group(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group too
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def spawn(argv: list[str], env: dict[str, str], log: Path,
          **kwargs: Any) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)


@dataclass
class Exit:
    at: float  # time.time()
    name: str
    code: int


@dataclass
class Supervisor:
    """Keeps every named command running: a child that exits is started again at once."""

    commands: dict[str, list[str]]
    envs: dict[str, dict[str, str]]  # each child's environment
    logdir: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    exits: list[Exit] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        for name in self.commands:
            self._launch(name)
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def _launch(self, name: str) -> None:
        self.children[name] = spawn(self.commands[name], self.envs[name],
                                    self.logdir / f"{name}.log")

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            for name in list(self.children):
                with self._lock:
                    child = self.children[name]
                    code = child.poll()
                    if code is None or self._stopping.is_set():
                        continue
                    self.exits.append(Exit(time.time(), name, code))
                    # A killed leader may leave members of its group behind.
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(child.pid, signal.SIGKILL)
                time.sleep(RESTART_DELAY)
                with self._lock:
                    if not self._stopping.is_set():
                        self._launch(name)

    def kill(self, name: str, signum: int = signal.SIGKILL) -> int:
        with self._lock:
            child = self.children[name]
            signal_group(child, signum)
            return child.pid

    def pid(self, name: str) -> int:
        return self.children[name].pid

    def restarts(self, name: str | None = None) -> int:
        return sum(1 for e in self.exits if name is None or e.name == name)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            children = list(self.children.values())
        for child in children:
            signal_group(child, signal.SIGCONT)
            signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(max(0.1, deadline - time.monotonic()))
            terminate(child, grace=0.1)
