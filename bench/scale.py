"""Scale scenario (issue 18): what the data's size costs. Two copies of the suite side by side,
each on its own vhost and databases: one with --small-rows (10 000) products, payments,
idempotency keys, reservations and outbox/inbox rows, one with --rows (1 000 000), all seeded in
bulk (bench/scale_seed.py), not through the API. Product read, listing, full-text search and
checkout run against both in interleaved ABBA rounds; then one pass of each relay and sweeper is
timed on both (bench/scale_passes.py) and the catalog's reads are EXPLAINed on both.

    make bench BENCH_ARGS="--only scale"              # opt-in: not part of the default run
    .venv/bin/python bench/scale.py                   # the same; rewrites docs/benchmarks.md#scale
    .venv/bin/python bench/scale.py --quick           # 100 000 rows, short rounds, no doc update

Exit status: 0 ok, 1 errors seen (non-2xx, socket errors), 2 could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import harness
import scale_report
import scale_setup
import suite
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

SIZES = scale_setup.SIZES
BENCH = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> Any:
    parser = common.parser(__doc__, connections=32, connections_help="product reads (else 16)")
    parser.add_argument("--rows", type=int, help="rows of the big copy (default 1000000)")
    parser.add_argument("--small-rows", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=10_000, help="product ids read")
    parser.add_argument("--only", choices=["scale"], help=argparse.SUPPRESS)  # via bench/run.py
    parser.add_argument("--db-pool-size", type=int, default=4,
                        help="DB_POOL_SIZE of each service: two copies within max_connections")
    args = common.defaults(parser.parse_args(argv), rounds=(1, 3), duration=(3.0, 10.0),
                           warmup=(1.0, 3.0))
    args.rows = args.rows or (100_000 if args.quick else 1_000_000)
    return args


_BLOCKS = ("SELECT COALESCE(SUM(heap_blks_hit + COALESCE(idx_blks_hit, 0)), 0), "
           "COALESCE(SUM(heap_blks_read + COALESCE(idx_blks_read, 0)), 0) "
           "FROM pg_statio_user_tables")


def blocks(urls: list[str]) -> tuple[int, int]:
    """(found in shared buffers, read from the OS) blocks of these databases' tables so far."""
    found = [0, 0]
    for url in urls:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                for index, value in enumerate(conn.execute(text(_BLOCKS)).one()):
                    found[index] += int(value)
        finally:
            engine.dispose()
    return found[0], found[1]


def measure(binary: str, bases: dict[str, str], scripts: dict[str, dict[str, str]], args: Any,
            procs: suite.Processes, databases: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Per scenario: a warm-up of each copy, then ABBA rounds (small, big / big, small); with
    each round, the share of its databases' block reads PostgreSQL's buffers answered."""
    samples = []
    for key in scale_report.SCENARIOS:
        connections = args.connections if key == "product_read" else 16
        for size in SIZES:
            common.wrk(binary, bases[size], scripts[size][key], connections, args.warmup)
        for index in range(args.rounds):
            for size in common.abba(index, SIZES):
                procs.check_alive()
                before = blocks(databases[size])
                result = common.wrk(binary, bases[size], scripts[size][key], connections,
                                    args.duration)
                hit, read = (b - a for a, b in zip(before, blocks(databases[size]),
                                                         strict=True))
                samples.append({"scenario": key, "size": size, "round": index + 1,
                                "connections": connections, **result.__dict__,
                                "buffer_hit_ratio": hit / (hit + read) if hit + read else None})
                print(f"bench: {key} {size}: {result.rps:.1f}/s p99 {result.p99_ms:.1f} ms "
                      f"errors {result.errors}", flush=True)
    return samples


def passes_and_plans(urls: dict[str, dict[str, str]]) -> dict[str, Any]:
    def run(*argv: str) -> Any:
        done = subprocess.run([sys.executable, str(BENCH / "scale_passes.py"), *argv],
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise suite.BenchError(f"scale_passes {argv[0]} failed: {done.stderr[-2000:]}")
        return json.loads(done.stdout)
    return {size: {**run("passes", urls[size]["catalog"], urls[size]["payments"]),
                   "read_plans": run("explain", urls[size]["catalog"], *scale_report.WORDS)}
            for size in SIZES}


def collect(binary: str, args: Any, run_name: str) -> dict[str, Any]:
    rows = {"small": args.small_rows, "big": args.rows}
    with contextlib.ExitStack() as stack:
        vhosts = {size: stack.enter_context(suite.vhost(f"scale{size}")) for size in SIZES}
        urls = {size: stack.enter_context(suite.databases(harness.SERVICES, f"scale_{size}"))
                for size in SIZES}
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        print(f"bench: seeding {rows} rows per table in bulk", flush=True)
        scale_setup.seed(urls, rows)
        procs = stack.enter_context(suite.Processes(run_name))
        bases = {size: scale_setup.start(procs, size, vhosts[size], urls[size], args.db_pool_size)
                 for size in SIZES}
        for size in SIZES:
            suite.wait_http_ok(f"{bases[size]}/readyz", procs, timeout=120)
        scripts = {size: scale_setup.workloads(bases[size], urls[size]["catalog"], args, tmp)
                   for size in SIZES}
        print("bench: measuring", flush=True)
        samples = measure(binary, bases, scripts, args, procs,
                          {size: list(urls[size].values()) for size in SIZES})
        print("bench: timing the relays and sweepers, explaining the reads", flush=True)
        return {"rows": rows, "samples": samples, "jobs": passes_and_plans(urls)}


def main(argv: list[str] | None = None, script: str = "bench/scale.py") -> int:
    """`script`: the command that ran this, for the record (bench/run.py hands over `--only`)."""
    args = parse_args(argv)
    run = common.Run(script, "scale", argv)
    measured, failed = run.attempt(collect, args)
    if failed is not None or measured is None:
        return failed or 2
    summary = scale_report.summarise(measured["samples"])
    meta = run.meta(rows=measured["rows"], rounds=args.rounds, duration_s=args.duration,
                    warmup_s=args.warmup, connections=args.connections, sample=args.sample,
                    db_pool_size=args.db_pool_size)
    run.finish(args, "scale", scale_report.markdown(summary, measured["jobs"], meta), meta,
               summary=summary, jobs=measured["jobs"], samples=measured["samples"])
    return 1 if any(s["errors"] for s in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
