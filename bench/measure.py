"""Rounds of `make bench`: a warm-up per scenario and system, then interleaved rounds.

Within a round every (scenario, system) runs once, the systems of a pair next to each other;
odd rounds run the whole list backwards (ABBA), so slow drifts of the machine's load hit ours and
the baselines alike. Each run records wrk's figures and the CPU seconds every process spent
(services, gateways, baselines, RabbitMQ's node, this run's PostgreSQL backends, wrk), and how
busy the whole machine was, so that other people's load can be told apart from ours.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import suite
from loadgen import run_wrk
from scenarios import Scenario, module


class Clocks:
    """CPU clocks of every process this run started, RabbitMQ and the run's PG backends."""

    def __init__(self, procs: suite.Processes, databases: list[str]) -> None:
        self.pids = {name: child.pid for name, child in procs.children.items()}
        # Shared servers: other people's traffic on them is counted too (see the load line).
        for name, command in (("rabbitmq", "beam.smp"), ("redis", "redis-server")):
            pid = suite.pid_of(command)
            if pid is not None:
                self.pids[name] = pid
        self.databases = databases
        self._backends = module("checkout").backends  # PG backends serving these databases

    def read(self) -> dict[str, Any]:
        cpu = {name: suite.cpu_seconds(pid) for name, pid in self.pids.items()}
        backends = {pid: suite.cpu_seconds(pid) for pid in self._backends(self.databases)}
        return {"cpu": cpu, "backends": backends, "busy": suite.machine_busy_seconds()}

    @staticmethod
    def spent(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        cpu = {name: after["cpu"][name] - before["cpu"][name] for name in before["cpu"]}
        # A backend opened during the run counts from zero.
        cpu["postgres"] = sum(seconds - before["backends"].get(pid, 0.0)
                              for pid, seconds in after["backends"].items())
        return cpu


def measure(wrk: str, scenario: Scenario, system: str, base: str, seconds: float,
            clocks: Clocks) -> dict[str, Any]:
    before = clocks.read()
    try:
        result = run_wrk(wrk, base + scenario.path, scenario.connections, seconds,
                         script=scenario.script)
    except RuntimeError as exc:
        raise suite.BenchError(str(exc)) from exc
    after = clocks.read()
    cpu = clocks.spent(before, after)
    cpu["wrk"] = result.wrk_cpu_s
    return {**asdict(result), "scenario": scenario.key, "system": system, "cpu_s": cpu,
            "machine_busy_s": after["busy"] - before["busy"]}


def plan(scenarios: list[Scenario]) -> list[tuple[Scenario, str]]:
    return [(scenario, system) for scenario in scenarios for system in scenario.systems]


def run_rounds(wrk: str, scenarios: list[Scenario], bases: dict[str, str], args: Any,
               procs: suite.Processes, clocks: Clocks) -> list[dict[str, Any]]:
    runs = plan(scenarios)
    if args.warmup > 0:
        print(f"bench: warm-up, {args.warmup:g} s per scenario and system", flush=True)
        for scenario, system in runs:
            procs.check_alive()
            measure(wrk, scenario, system, bases[system], args.warmup, clocks)
    samples = []
    for index in range(args.rounds):
        for scenario, system in runs if index % 2 == 0 else runs[::-1]:
            procs.check_alive()
            sample = measure(wrk, scenario, system, bases[system], args.duration, clocks)
            sample["round"] = index + 1
            samples.append(sample)
            errors = sample["non_2xx"] + sample["socket_errors"]
            print(f"bench: round {index + 1} {scenario.key:<16} {system:<14} "
                  f"{sample['rps']:8.1f} {scenario.unit:<11} p50 {sample['p50_ms']:7.2f} ms  "
                  f"p99 {sample['p99_ms']:8.2f} ms  errors {errors}", flush=True)
    return samples
