"""The nemesis: faults on a seeded schedule, each healed, then the time until the suite answers
/readyz again is measured (its recovery time).

kill:<process> (SIGKILL; the supervisor restarts it), broker (SIGKILL the private node, restart
it), postgres (immediate stop, restart), pause:<service> (SIGSTOP .. SIGCONT),
latency|blackhole|reset:<service> (its link to the broker), duplicate (a delivered
payment_succeeded again, byte-identical), poison (garbage JSON to a handler and an RPC queue),
reorder (a refund handed to the catalog before its sale: chaos.scenarios).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chaos import amqp
from chaos.infra import PrivatePostgres, PrivateRabbit
from chaos.state import Databases
from chaos.suite import Suite

SERVICES = ("auth", "catalog", "payments")
PER_SERVICE = ("pause", "latency", "blackhole", "reset")
RECOVERY_TIMEOUT = 150.0


@dataclass
class Fault:
    kind: str
    target: str = ""
    hold: float = 0.0  # seconds the fault lasts before it is healed

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind


@dataclass
class Record:
    fault: str
    start: float
    healed: float = 0.0
    recovery_s: float | None = None  # heal -> /readyz 200 again
    detail: dict[str, Any] = field(default_factory=dict)


def short_plan(rng: random.Random) -> list[Fault]:
    """CI: one service kill -9, one broker kill and restart, one duplicate, one poison, and a
    refund handed to the catalog before its sale (chaos.scenarios)."""
    return [Fault("duplicate"), Fault("poison"), Fault("kill", rng.choice(SERVICES)),
            Fault("reorder"), Fault("broker", hold=3.0)]


def full_plan(rng: random.Random, count: int) -> list[Fault]:
    """Every kind of fault once, shuffled, then random ones (random targets and holds); the
    run takes as many as fit in its duration."""
    kinds = [*(("kill", t) for t in (*SERVICES, "gateway")), ("broker", ""), ("postgres", ""),
             ("duplicate", ""), ("poison", ""), ("reorder", ""), *((k, "") for k in PER_SERVICE)]
    first = kinds[:]
    rng.shuffle(first)
    return [_fault(rng, *kind) for kind in first + [rng.choice(kinds) for _ in range(count)]]


def _fault(rng: random.Random, kind: str, target: str) -> Fault:
    if kind in PER_SERVICE:
        target = rng.choice(SERVICES)
    hold = {"broker": (2, 8), "postgres": (2, 8), "pause": (5, 12), "latency": (5, 15),
            "blackhole": (5, 12)}.get(kind)
    return Fault(kind, target, round(rng.uniform(*hold), 1) if hold else 0.0)


class Nemesis:
    def __init__(self, suite: Suite, rabbit: PrivateRabbit, pg: PrivatePostgres,
                 db: Databases, t0: float) -> None:
        self.suite, self.rabbit, self.pg, self.db, self.t0 = suite, rabbit, pg, db, t0
        self.records: list[Record] = []
        self.poison_ids: set[str] = set()
        self.duplicated: list[str] = []  # payment ids whose event was republished
        # Faults that need the client (chaos.scenarios), set by the runner: kind -> coroutine.
        self.scenarios: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {}

    def now(self) -> float:
        return round(time.time() - self.t0, 3)

    async def run(self, plan: list[Fault], start_in: float, gaps: tuple[float, float],
                  until: float, rng: random.Random) -> None:
        await asyncio.sleep(start_in)
        for fault in plan:
            if self.now() + fault.hold + 10 > until:
                break
            await self.apply(fault)
            await asyncio.sleep(rng.uniform(*gaps))

    async def apply(self, fault: Fault) -> Record:
        record = Record(fault.name, self.now())
        self.records.append(record)
        print(f"chaos: t={record.start:7.1f}s fault {fault.name} (hold {fault.hold:.1f} s)",
              flush=True)
        try:
            record.detail = await self._inflict(fault) or {}
        finally:
            self._heal_all()
            record.healed = self.now()
        record.recovery_s = await asyncio.to_thread(self._until_ready)
        return record

    async def _inflict(self, fault: Fault) -> dict[str, Any] | None:
        sup, target = self.suite.supervisor, fault.target
        if fault.kind in self.scenarios:
            return await self.scenarios[fault.kind]()
        if fault.kind == "kill":
            return {"pid": sup.kill(target, signal.SIGKILL)}
        if fault.kind == "pause":
            sup.kill(target, signal.SIGSTOP)
            await asyncio.sleep(fault.hold)
            sup.kill(target, signal.SIGCONT)
        elif fault.kind == "broker":
            await asyncio.to_thread(self.rabbit.kill9)
            await asyncio.sleep(fault.hold)
            return {"restart_s": round(await asyncio.to_thread(self.rabbit.start), 2)}
        elif fault.kind == "postgres":
            await asyncio.to_thread(self.pg.stop_immediate)
            await asyncio.sleep(fault.hold)
            return {"restart_s": round(await asyncio.to_thread(self.pg.start), 2)}
        elif fault.kind in ("latency", "blackhole"):
            proxy = self.suite.proxies[target]
            proxy.latency(0.25) if fault.kind == "latency" else proxy.blackhole()
            await asyncio.sleep(fault.hold)
        elif fault.kind == "reset":
            return {"connections": self.suite.proxies[target].reset()}
        elif fault.kind == "duplicate":
            return await asyncio.to_thread(self._duplicate)
        elif fault.kind == "poison":
            found = await asyncio.to_thread(amqp.poison, self.rabbit.uri)
            self.poison_ids |= {found["event_message_id"], found["rpc_message_id"]}
            return found
        return None

    def _duplicate(self) -> dict[str, Any]:
        copy = amqp.take_delivered(self.rabbit.uri, self.db.applied)
        if copy is None:
            return {"skipped": "no delivered payment_succeeded yet"}
        # As payments: only the owner's broker user makes an event the catalog applies.
        amqp.republish(self.suite.env["PAYMENTS_AMQP_URI"], copy)
        self.duplicated.append(copy.payment_id)
        return {"event_id": copy.event_id, "payment_id": copy.payment_id}

    def _heal_all(self) -> None:
        for proxy in self.suite.proxies.values():
            proxy.heal()
        for name in self.suite.supervisor.children:
            self.suite.supervisor.kill(name, signal.SIGCONT)

    def _until_ready(self) -> float | None:
        started = time.monotonic()
        while time.monotonic() - started < RECOVERY_TIMEOUT:
            if self.suite.ready(timeout=2.0):
                return round(time.monotonic() - started, 2)
            time.sleep(0.25)
        return None
