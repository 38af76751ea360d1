"""A bound on how long a graceful stop may take.

nameko's `container.stop()` (what `nameko run` does on SIGTERM) waits for every running worker
and every extension's stop() without a limit, so one stuck call keeps the process alive until a
supervisor SIGKILLs it. When the stop begins the safe RPC entrypoint arms this deadline; when it
runs out the container is killed the nameko way: workers are killed, the consumers' connections
close and the broker hands every unacked message to the next instance.

STOP_TIMEOUT leaves the rest of a supervisor's grace period before SIGKILL (GRACE_SECONDS in
deploy/local/run.py) to the kill and the interpreter's exit; the measured budget is in
docs/benchmarks.md ("Figures moved out of code comments").
"""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from nameko.extensions import SharedExtension

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0
# nameko config key (config.yaml) that overrides STOP_TIMEOUT for one service.
STOP_TIMEOUT_CONFIG_KEY = "STOP_TIMEOUT"


class StopDeadline(SharedExtension):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self._timer: Any = None

    def arm(self) -> None:
        """Start the countdown (idempotent: every entrypoint calls it when it stops)."""
        if self._timer is not None:
            return
        seconds = float(self.container.config.get(STOP_TIMEOUT_CONFIG_KEY, STOP_TIMEOUT))
        self._timer = eventlet.spawn_after(seconds, self._expire, seconds)

    def _expire(self, seconds: float) -> None:
        log.warning("%s did not stop within %g s; killing it (unacked messages are requeued "
                    "for the next instance)", self.container.service_name, seconds)
        self.container.kill()

    def stop(self) -> None:
        # Called last in a graceful stop: it finished in time.
        self._disarm()

    def kill(self) -> None:
        self._disarm()

    def _disarm(self) -> None:
        if self._timer is not None:
            # No effect when called from _expire itself (the timer has already started).
            self._timer.cancel()
