"""`OutboxRelay`: the dependency that publishes a service's outbox (shared.messaging.relay).

Add it to the service class: `relay = OutboxRelay(lambda: settings().database_url)`. It runs one
greenthread that declares the whole topology, then publishes committed outbox rows as soon as
PostgreSQL notifies a commit (polling every OUTBOX_POLL_INTERVAL as a fallback), and prunes old
rows. In a worker, `self.relay()` returns the outbox lag.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import eventlet
from eventlet.hubs import trampoline
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.extensions import DependencyProvider
from sqlalchemy import Engine

from shared.db import make_engine
from shared.messaging.confirms import ConfirmingPublisher
from shared.messaging.lag import OutboxLag, outbox_lag
from shared.messaging.notify import Listener
from shared.messaging.relay import Relay, RelaySettings
from shared.messaging.topology import declare_topology

log = logging.getLogger(__name__)


def green_wait(fileno: int, timeout: float) -> None:
    """Park this greenthread until `fileno` is readable, without blocking the process."""
    with contextlib.suppress(eventlet.Timeout):
        trampoline(fileno, read=True, timeout=timeout)


class OutboxRelay(DependencyProvider):  # type: ignore[misc]
    def __init__(self, database_url: Callable[[], str],
                 settings: Callable[[], RelaySettings] = RelaySettings) -> None:
        self._database_url = database_url
        self._settings = settings
        self._stopping = False
        self._gt: Any = None
        self._engine: Engine | None = None
        self._publisher: ConfirmingPublisher | None = None
        self._listener: Listener | None = None
        self.relay: Relay | None = None

    def setup(self) -> None:
        # psycopg2 is C code: without this a query blocks every greenthread in the process.
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
        url = self._database_url()
        self._engine = make_engine(url, pool_size=2)
        self._publisher = ConfirmingPublisher(self.container.config[AMQP_URI_CONFIG_KEY],
                                              on_connect=declare_topology)
        self._listener = Listener(url, wait_readable=green_wait)
        self.relay = Relay(self._engine, self._publisher, self._settings())

    def start(self) -> None:
        self._gt = self.container.spawn_managed_thread(self._run, identifier="OutboxRelay")

    def stop(self) -> None:
        # Called once every worker has finished, so whatever they recorded is committed: the
        # loop's current pass publishes it before exiting (within one poll interval).
        self._stopping = True
        if self._gt is not None:
            self._gt.wait()
        self._close()

    def kill(self) -> None:
        self._stopping = True
        if self._gt is not None:
            self._gt.kill()
        self._close()

    def get_dependency(self, worker_ctx: Any) -> Callable[[], OutboxLag]:
        assert self._engine is not None, "OutboxRelay used before setup()"
        return partial(outbox_lag, self._engine)

    def _run(self) -> None:
        assert self.relay is not None and self._listener is not None
        self.relay.run(self._listener, lambda: self._stopping)

    def _close(self) -> None:
        for closer in (self._listener, self._publisher):
            if closer is not None:
                closer.close()
        if self._engine is not None:
            self._engine.dispose()
