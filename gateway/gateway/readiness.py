"""Readiness fan-out at most once a second, however often /readyz is asked.

Every /readyz pings every service over the bus; asked by many probes, load balancers or a
flood, that multiplies into RPC load on the services. So the last answer is reused for
`ttl` seconds and askers that arrive while a fan-out runs wait for that same one (single
flight): fan-outs start at least `ttl` apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

from gateway.ports import Rpc
from shared import logs
from shared.errors import SuiteError

Result = TypeVar("Result")


class SharedCheck(Generic[Result]):
    def __init__(self, check: Callable[[], Awaitable[Result]], ttl: float = 1.0) -> None:
        self.check = check
        self.ttl = ttl
        self.runs = 0  # fan-outs started (tests count them)
        self._last: Result | None = None
        self._finished = -float("inf")
        self._running: asyncio.Future[Result] | None = None

    async def result(self) -> Result:
        if self._last is not None and time.monotonic() - self._finished < self.ttl:
            return self._last
        if self._running is None:
            self.runs += 1
            self._running = asyncio.ensure_future(self._run())
        # shield: an asker that goes away does not cancel the fan-out the others wait for
        return await asyncio.shield(self._running)

    async def _run(self) -> Result:
        try:
            self._last = await self.check()
            self._finished = time.monotonic()
            return self._last
        finally:
            self._running = None


def services_check(rpc: Rpc, services: Iterable[str],
                   timeout: float) -> SharedCheck[dict[str, str]]:
    """Every service pinged at once: "up", "timeout" or "unavailable" for each."""
    names = tuple(services)

    async def fan_out() -> dict[str, str]:
        # The request id of the asker that started it: the probes are traced to it.
        request_id = logs.current().get("request_id", "readiness")
        results = await asyncio.gather(*(_probe(rpc, s, timeout, request_id) for s in names))
        return dict(zip(names, results, strict=True))

    return SharedCheck(fan_out)


async def _probe(rpc: Rpc, service: str, timeout: float, request_id: str) -> str:
    try:
        # With the request id, like every call: a probe can be traced to each service's log.
        await rpc.call(service, "ping", timeout=timeout, context={"request_id": request_id})
    except SuiteError as error:
        return "timeout" if error.status == 504 else "unavailable"
    return "up"
