"""What the single-scenario benchmarks (bench/catalog.py, checkout.py, auth_login.py,
edge_overhead.py) share: their common options, one wrk run, CPU clocks, ABBA order, and a
`Run`: its name, what a failure exits with, its meta data and where its figures go (the JSON in
bench/results/, stdout, its block of docs/benchmarks.md).

Everything they start is stopped by their own `with` blocks before `Run.attempt` returns.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import report
import suite
from loadgen import WrkResult, run_wrk

T = TypeVar("T")
S = TypeVar("S")


def parser(doc: str, connections: int, connections_help: str | None = None,
           warmup: bool = True) -> argparse.ArgumentParser:
    """--quick, --rounds, --duration, [--warmup], --connections, --no-doc; the script adds its
    own options, then calls `defaults`."""
    found = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    found.add_argument("--quick", action="store_true", help="short smoke run; no doc update")
    found.add_argument("--rounds", type=int)
    found.add_argument("--duration", type=float, help="seconds of each measured run")
    if warmup:
        found.add_argument("--warmup", type=float, help="seconds of warm-up")
    found.add_argument("--connections", type=int, default=connections, help=connections_help)
    found.add_argument("--no-doc", action="store_true", help="don't rewrite docs/benchmarks.md")
    return found


def defaults(args: argparse.Namespace, rounds: tuple[int, int], duration: tuple[float, float],
             warmup: tuple[float, float] | None = None) -> argparse.Namespace:
    """Fills what was not given: each pair is (--quick, full run); `--warmup 0` is kept."""
    pick = 0 if args.quick else 1
    args.rounds = args.rounds or rounds[pick]
    args.duration = args.duration or duration[pick]
    if warmup is not None:
        args.warmup = args.warmup if args.warmup is not None else warmup[pick]
    return args


def wrk(binary: str, url: str, script: str, connections: int, seconds: float,
        threads: int = 2, timeout_s: float = 5.0) -> WrkResult:
    """One wrk run with a Lua script building the requests; BenchError when wrk fails."""
    try:
        return run_wrk(binary, url, connections, seconds, threads=threads, timeout_s=timeout_s,
                       script=script)
    except RuntimeError as exc:
        raise suite.BenchError(str(exc)) from exc


def abba(index: int, items: Sequence[S]) -> Sequence[S]:
    """Round `index`'s order: forwards in even rounds, backwards in odd ones."""
    return items if index % 2 == 0 else items[::-1]


def interleaved(binary: str, urls: dict[str, str], script: str, args: argparse.Namespace,
                procs: Any, pids_of: Callable[[str], dict[str, int]]
                ) -> list[tuple[int, str, WrkResult, dict[str, float]]]:
    """A warm-up per system, then `args.rounds` rounds of one wrk run per system in ABBA order:
    (round, system, result, CPU seconds each of `pids_of(system)` spent) per run."""
    systems = list(urls)
    for name in systems:
        wrk(binary, urls[name], script, args.connections, args.warmup)
    runs = []
    for index in range(args.rounds):
        for name in abba(index, systems):
            procs.check_alive()
            pids = pids_of(name)
            before = cpu_clocks(pids)
            result = wrk(binary, urls[name], script, args.connections, args.duration)
            runs.append((index, name, result, cpu_spent(pids, before)))
    return runs


def cpu_clocks(pids: dict[str, int]) -> dict[str, float]:
    return {name: suite.cpu_seconds(pid) for name, pid in pids.items()}


def cpu_spent(pids: dict[str, int], before: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process spent since `before = cpu_clocks(pids)`."""
    return {name: suite.cpu_seconds(pid) - before[name] for name, pid in pids.items()}


def medians(samples: list[dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """The median of each key over `samples`, and their errors (non-2xx + socket errors)."""
    found: dict[str, Any] = {key: statistics.median(s[key] for s in samples) for key in keys}
    found["errors"] = sum(s["non_2xx"] + s["socket_errors"] for s in samples)
    return found


class Run:
    """One run of a benchmark script: started now, named `<UTC time>-<suffix>`."""

    def __init__(self, script: str, suffix: str, argv: list[str] | None) -> None:
        suite.on_signal_raise()
        self.script, self.argv = script, argv
        self.started, self.source = time.time(), suite.source_state()
        self.name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started)) + f"-{suffix}"

    def attempt(self, collect: Callable[[str, Any, str], T],
                args: argparse.Namespace) -> tuple[T | None, int | None]:
        """(collect(wrk binary, args, this run's name), None), or (None, exit status) once it
        says why: 2 could not run, 130 interrupted."""
        try:
            return collect(suite.ensure_wrk(), args, self.name), None
        except suite.BenchError as exc:
            print(f"bench: cannot run: {exc}", file=sys.stderr)
            return None, 2
        except KeyboardInterrupt:
            print("bench: interrupted; everything started was stopped", file=sys.stderr)
            return None, 130

    def meta(self, **fields: Any) -> dict[str, Any]:
        """The command, when, how long, which code, the script's own `fields`, the machine."""
        argv = sys.argv if self.argv is None else [self.script, *self.argv]
        return {"command": report.command_line(argv),
                "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started)),
                "minutes": round((time.time() - self.started) / 60, 1), "source": self.source,
                **fields, "machine": suite.machine(), "load": suite.load_average()}

    def finish(self, args: argparse.Namespace, block: str, text: str, meta: dict[str, Any],
               **data: Any) -> None:
        """bench/results/<run>.json ({"meta": meta, **data}), the text on stdout and, for a
        full run without --no-doc, in `block` of docs/benchmarks.md."""
        (suite.RESULTS / f"{self.name}.json").write_text(
            json.dumps({"meta": meta, **data}, indent=2))
        print(text)
        if not args.quick and not args.no_doc:
            report.update_doc(block, text)
            print("bench: figures written to docs/benchmarks.md")
