"""Heal everything, then wait (bounded) for quiescence: the suite ready, every suite queue empty
except the DLQs, every outbox drained, every payment and key terminal, nothing reserved.
Not converging within the bound is itself a failure of the run."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any

from chaos import amqp
from chaos.infra import PrivatePostgres, PrivateRabbit
from chaos.state import Databases
from chaos.suite import Suite

STABLE_CHECKS = 3  # in a row, POLL seconds apart: nothing is merely between two steps
POLL = 2.0


@dataclass
class Quiescence:
    converged: bool
    seconds: float
    busy: dict[str, Any] = field(default_factory=dict)  # what was still moving at the end


def heal(suite: Suite, rabbit: PrivateRabbit, pg: PrivatePostgres) -> None:
    for proxy in suite.proxies.values():
        proxy.heal()
    for name in suite.supervisor.children:
        suite.supervisor.kill(name, signal.SIGCONT)
    if rabbit.process is None or rabbit.process.poll() is not None:
        rabbit.start()
    if pg.process is None or pg.process.poll() is not None:
        pg.start()


def busy(suite: Suite, rabbit: PrivateRabbit, db: Databases) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if not suite.ready():
        found["readyz"] = "not ready"
    try:
        found.update({q: n for q, n in amqp.depths(rabbit.uri).items()
                      if not q.endswith(".dlq") and n != 0})
    except Exception as exc:  # the broker is still coming back
        found["broker"] = type(exc).__name__
    try:
        found.update({k: n for k, n in db.unsettled().items() if n})
    except Exception as exc:
        found["databases"] = type(exc).__name__
    return found


def wait_quiescent(suite: Suite, rabbit: PrivateRabbit, db: Databases,
                   timeout: float) -> Quiescence:
    """`seconds`: until the first of STABLE_CHECKS quiet checks in a row."""
    started = time.monotonic()
    stable, quiet_since, last = 0, started, {}
    while time.monotonic() - started < timeout:
        last = busy(suite, rabbit, db)
        if last:
            stable = 0
        else:
            quiet_since = time.monotonic() if stable == 0 else quiet_since
            stable += 1
        if stable >= STABLE_CHECKS:
            return Quiescence(True, round(quiet_since - started, 1))
        time.sleep(POLL)
    return Quiescence(False, round(time.monotonic() - started, 1), last)
