"""Test-only nameko services for the RPC, shutdown and ops CLI tests (started with `nameko run`).

`rpcprobe` calls `rpcpeer` through ServiceRpc; `work` appends to a ledger file so a test can
count how many times each call was applied, across instances. `rpcrelay` records an event in
the outbox of RPCPROBE_DATABASE_URL, which its OutboxRelay publishes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import eventlet

from shared.errors import NotFound, SuiteError
from shared.messaging.outbox import record_event
from shared.messaging.tables import OUTBOX
from shared.nameko.bootstrap import prepare
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.health import HealthMixin
from shared.nameko.outbox import OutboxRelay
from shared.nameko.rpc import ServiceRpc, rpc

prepare("rpcprobe", os.environ.get("LOG_LEVEL", "INFO"),
        database="RPCPROBE_DATABASE_URL" in os.environ)  # only the outbox probe has one

PEER_TIMEOUT = float(os.environ.get("RPCPROBE_PEER_TIMEOUT", "1.0"))


def _ledger(kind: str) -> Path:
    return Path(os.environ["RPCPROBE_LEDGER"]).with_suffix(f".{kind}")


def _record(kind: str, key: str) -> None:
    # One short O_APPEND write per line: lines from concurrent instances never interleave.
    with _ledger(kind).open("a") as ledger:
        ledger.write(f"{key}\n")


class ProbeService(HealthMixin):
    name = "rpcprobe"

    context = RequestContext()
    peer = ServiceRpc("rpcpeer", timeout=PEER_TIMEOUT)
    peer_default = ServiceRpc("rpcpeer")  # RPC_TIMEOUT from the environment
    nobody = ServiceRpc("rpcnobody", timeout=PEER_TIMEOUT)

    @rpc
    def add(self, a: int, b: int) -> int:
        return a + b

    @rpc
    def relay(self, method: str, *args: Any) -> Any:
        """Calls rpcpeer.<method>: its errors cross two hops."""
        return getattr(self.peer, method)(*args)

    @rpc
    def timed(self, target: str, method: str, *args: Any) -> dict[str, Any]:
        """Calls <target>.<method> and reports what the proxy raised, and when."""
        started = time.monotonic()
        try:
            result = getattr(getattr(self, target), method)(*args)
        except SuiteError as error:
            return {"error": type(error).__name__, "detail": error.detail,
                    "elapsed": time.monotonic() - started}
        return {"result": result, "elapsed": time.monotonic() - started}

    @rpc
    def work(self, key: str, seconds: float) -> str:
        """Applies `key` once it has slept; a call that was started before runs at once."""
        started = _ledger("started")
        if started.exists() and key in started.read_text().split():
            seconds = 0
        _record("started", key)
        eventlet.sleep(seconds)
        _record("applied", key)
        return key


class PeerService(HealthMixin):
    name = "rpcpeer"

    context = RequestContext()

    @rpc
    def sleep(self, seconds: float) -> float:
        eventlet.sleep(seconds)
        return seconds

    @rpc
    def missing(self, thing: str) -> None:
        raise NotFound(f"no {thing} here", [{"field": "thing", "message": "unknown"}])

    @rpc
    def broken(self) -> None:
        raise ValueError("internal detail that must not leak")

    @rpc
    def whoami(self) -> dict[str, Any]:
        return dict(self.context)


class RelayService(HealthMixin):
    name = "rpcrelay"

    db = Database(lambda: os.environ["RPCPROBE_DATABASE_URL"])
    relay = OutboxRelay(lambda: os.environ["RPCPROBE_DATABASE_URL"])

    @rpc
    def delete_product(self, product_id: str, seconds: float) -> str:
        """Sleeps, then commits a product_deleted event for the relay to publish."""
        eventlet.sleep(seconds)
        with self.db() as uow:
            record_event(uow.session, OUTBOX, "catalog", "product_deleted",
                         {"product_id": product_id})
        return product_id
