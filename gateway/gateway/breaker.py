"""Circuit breakers, one per upstream service: while a service is down, fail fast.

Without a breaker every request to a dead service waits out the whole RPC timeout (504), holding
a connection and an in-flight slot (gateway.shedding) all that time. A breaker counts the calls
of the last `window` seconds; once at least `failures` of them failed *and* failures are at
least `ratio` of them, it opens: calls answer 503 + Retry-After at once, without an RPC. After
`cooldown` seconds it lets one call through (half-open): its success closes the breaker, its
failure opens it for another cool-down. Design: docs/adr/0006-gateway-resilience.md.

Only unavailability counts as failure: a timeout (504) or a 503. A typed business error (404,
409, 422, ...) or even an unexpected 500 is an answer, so the service is up. A call that ends
otherwise (cancelled because the client went away) counts as neither.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from gateway.config import SERVICES, GatewaySettings
from gateway.metrics import BREAKER_REJECTED, BREAKER_STATE
from shared.errors import ServiceUnavailable, SuiteError, UpstreamTimeout

T = TypeVar("T")
Clock = Callable[[], float]


class State(IntEnum):
    """The values of the `gateway_circuit_breaker_state` gauge."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


@dataclass(frozen=True, slots=True)
class Policy:
    failures: int = 5  # at least this many failed calls within the window ...
    ratio: float = 0.5  # ... that are at least this share of the window's calls
    window: float = 10.0  # seconds
    cooldown: float = 5.0  # seconds open before one probe call is let through


class Breaker:
    def __init__(self, service: str, policy: Policy, clock: Clock = time.monotonic) -> None:
        self.service = service
        self.policy = policy
        self.clock = clock
        self.state = State.CLOSED
        self._buckets: deque[list[int]] = deque()  # [second, calls, failures], oldest first
        self._opened_at = 0.0
        self._probing = False
        self._gauge = BREAKER_STATE.labels(service)
        self._gauge.set(State.CLOSED)

    async def call(self, fn: Callable[[], Awaitable[T]],
                   blame: Callable[[], bool] = lambda: True) -> T:
        """Run `fn` unless the breaker is open. `blame()` says, when `fn` failed with 503/504,
        whether that was the service's doing (False: e.g. the broker connection was lost)."""
        probe = self._admit()
        ok: bool | None = None
        try:
            result = await fn()
            ok = True
            return result
        except (ServiceUnavailable, UpstreamTimeout):
            ok = False if blame() else None
            raise
        except SuiteError:
            ok = True  # the service answered, with an error of its own
            raise
        finally:
            self._settle(probe, ok)

    def retry_after(self) -> int:
        if self.state is State.OPEN:
            left = self.policy.cooldown - (self.clock() - self._opened_at)
            return max(1, math.ceil(left))
        return 1

    def _admit(self) -> bool:
        """True when this call is the half-open probe; raises while calls must fail fast."""
        if self.state is State.CLOSED:
            return False
        if self.state is State.OPEN and self.clock() - self._opened_at >= self.policy.cooldown:
            self._set(State.HALF_OPEN)
        if self.state is State.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        BREAKER_REJECTED.labels(self.service).inc()
        raise ServiceUnavailable(f"The {self.service} service is failing; retry shortly.",
                                 extra={"retry_after": self.retry_after()})

    def _settle(self, probe: bool, ok: bool | None) -> None:
        if probe:
            self._probing = False
            if ok is True:
                self._buckets.clear()
                self._set(State.CLOSED)
            elif ok is False:
                self._open()
        elif self.state is State.CLOSED and ok is not None:
            # Calls admitted before the breaker opened do not count once it has.
            self._count(ok)

    def _count(self, ok: bool) -> None:
        now = self.clock()
        second = int(now)
        if self._buckets and self._buckets[-1][0] == second:
            bucket = self._buckets[-1]
        else:  # a new second: forget the ones that left the window
            horizon = now - self.policy.window
            while self._buckets and self._buckets[0][0] + 1 <= horizon:
                self._buckets.popleft()
            bucket = [second, 0, 0]
            self._buckets.append(bucket)
        bucket[1] += 1
        if ok:
            return
        bucket[2] += 1
        calls = sum(b[1] for b in self._buckets)
        failed = sum(b[2] for b in self._buckets)
        if failed >= self.policy.failures and failed >= self.policy.ratio * calls:
            self._open()

    def _open(self) -> None:
        self._opened_at = self.clock()
        self._buckets.clear()
        self._set(State.OPEN)

    def _set(self, state: State) -> None:
        self.state = state
        self._gauge.set(state)


class Breakers:
    """This gateway process's breakers, made on first use of a service name."""

    def __init__(self, policy: Policy, services: Iterable[str] = (),
                 clock: Clock = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._by_service: dict[str, Breaker] = {}
        for service in services:  # so the gauge shows every known service from the start
            self.get(service)

    def get(self, service: str) -> Breaker:
        breaker = self._by_service.get(service)
        if breaker is None:
            breaker = self._by_service[service] = Breaker(service, self.policy, self.clock)
        return breaker

    def states(self) -> dict[str, State]:
        return {service: breaker.state for service, breaker in self._by_service.items()}


def build(config: GatewaySettings) -> Breakers | None:
    """The process's breakers, or None when GATEWAY_BREAKER_ENABLED=false."""
    if not config.breaker_enabled:
        return None
    policy = Policy(config.breaker_failures, config.breaker_ratio, config.breaker_window,
                    config.breaker_cooldown)
    return Breakers(policy, SERVICES)
