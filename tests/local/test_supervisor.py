"""deploy/local/supervisor.py with real child processes: restart with backoff, give up, stop."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from tests.support import infra

sys.path.insert(0, str(infra.ROOT / "deploy" / "local"))
import supervisor
from supervisor import Supervisor

PY = sys.executable


def run_for(sup: Supervisor, seconds: float) -> int:
    threading.Timer(seconds, sup.stopping.set).start()
    return sup.watch()


def test_a_crashed_child_restarts_with_backoff_while_the_other_keeps_running(
        capsys: pytest.CaptureFixture[str]) -> None:
    sup = Supervisor({}, {"steady": [PY, "-c", "import time; time.sleep(60)"],
                          "flaky": [PY, "-c", "import sys; sys.exit(3)"]})
    sup.start()
    steady = sup.children[0].process
    try:
        run_for(sup, 2.5)
    finally:
        sup.stop()
    log = capsys.readouterr().err
    assert "run: flaky exited with 3 after" in log
    assert "restarting it in 0.25 s" in log and "restarting it in 0.5 s" in log
    assert sup.children[1].restarts >= 2
    assert sup.children[0].restarts == 0 and sup.children[0].process is steady


def test_a_child_that_keeps_crashing_at_start_is_given_up_on(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(supervisor, "FIRST_BACKOFF", 0.05)
    sup = Supervisor({}, {"steady": [PY, "-c", "import time; time.sleep(60)"],
                          "broken": [PY, "-c", "import sys; sys.exit(2)"]})
    sup.children[1].backoff = 0.05
    sup.start()
    try:
        run_for(sup, 6)
    finally:
        sup.stop()
    log = capsys.readouterr().err
    assert (f"run: broken exited with 2 {supervisor.GIVE_UP_AFTER} times in a row" in log
            and "giving up on it" in log)
    assert sup.children[1].given_up and sup.children[1].restarts == supervisor.GIVE_UP_AFTER - 1
    assert sup.children[0].process is not None and sup.children[0].process.returncode is not None


def test_stop_ends_every_child_within_the_grace_period() -> None:
    ignores_term = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
                   "time.sleep(60)"
    sup = Supervisor({}, {"polite": [PY, "-c", "import time; time.sleep(60)"],
                          "stubborn": [PY, "-c", ignores_term]})
    sup.start()
    time.sleep(0.5)
    began = time.monotonic()
    sup.stop()
    assert time.monotonic() - began < supervisor.GRACE_SECONDS + 1
    assert all(c.process is not None and c.process.poll() is not None for c in sup.children)
