"""A tiny nameko service for the RpcClient tests, run with `nameko run` like the real ones.

Not a test module (pytest collects test_*.py only); it is imported by the nameko process.
"""

from __future__ import annotations

import os
import time
from typing import Any

from shared.errors import NotFound
from shared.nameko.bootstrap import prepare
from shared.nameko.context import RequestContext

# The very `rpc` entrypoint the services' `ping` uses: a service's entrypoints must all come
# from one RPC consumer, or two consumers share `rpc-<service>` and refuse each other's methods.
from shared.nameko.health import HealthMixin, rpc  # type: ignore[attr-defined]

prepare(os.environ.get("PROBE_NAME", "probe"), database=False)

# Per process: the service class is instantiated once per worker.
RECORDED: list[str] = []


class ProbeService(HealthMixin):
    # A test that needs a service of its own (its own durable queue) sets PROBE_NAME.
    name = os.environ.get("PROBE_NAME", "probe")

    context = RequestContext()

    @rpc
    def echo(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"args": list(args), "kwargs": kwargs}

    @rpc
    def sleep(self, seconds: float) -> str:
        time.sleep(seconds)  # eventlet-patched by `nameko run`
        return "awake"

    @rpc
    def find(self, ident: str) -> None:
        raise NotFound(f"No product {ident}.")

    @rpc
    def crash(self) -> None:
        raise RuntimeError("password=hunter2 at db.internal")

    @rpc
    def context_seen(self) -> dict[str, Any]:
        return dict(self.context)

    @rpc
    def record(self, token: str) -> None:
        RECORDED.append(token)

    @rpc
    def recorded(self) -> list[str]:
        return list(RECORDED)
