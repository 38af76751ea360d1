"""`make chaos`: start private servers and the suite, run the workload under the nemesis, heal,
wait for quiescence, check the history against every database; exit 1 on any violation.

    python chaos/run.py --short                    # CI: <= 5 min, four faults
    python chaos/run.py --seed 7 --duration 600    # full run, every kind of fault
    python chaos/run.py ... --out DIR              # keep history.jsonl, logs, report.json
    python chaos/run.py --cluster --short          # 3-node cluster, quorum queues, replicas
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # `chaos` as a package (not this directory first)

from chaos import cluster_mode, report  # noqa: E402
from chaos.cluster import RabbitCluster  # noqa: E402
from chaos.drive import drive  # noqa: E402
from chaos.infra import PrivatePostgres, PrivateRabbit  # noqa: E402
from chaos.suite import start_suite  # noqa: E402


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI run (<= 5 min)")
    parser.add_argument("--seed", type=int, help="nemesis and workload RNG (default: random; "
                                                 "--short: 1)")
    parser.add_argument("--duration", type=float, default=300.0, help="workload seconds")
    parser.add_argument("--rate", type=float, help="checkouts per second (reads: the same, "
                                                   "logins: a sixth)")
    parser.add_argument("--out", type=Path, help="keep the history, logs and report here")
    parser.add_argument("--cluster", action="store_true",
                        help="a 3-node RabbitMQ cluster, quorum queues, 2 replicas per service")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = 1 if args.short else random.SystemRandom().randrange(1, 10**6)
    if args.short:
        args.duration = cluster_mode.SHORT_DURATION if args.cluster else 60.0
    args.rate = args.rate or (2.5 if args.short else 4.0)
    return args


def start_broker(base: Path, clustered: bool) -> tuple[PrivateRabbit, RabbitCluster | None]:
    """One private node, or a cluster (its first node stands for the broker in the run's own
    tools) with quorum queues."""
    if not clustered:
        rabbit = PrivateRabbit(base)
        print(f"chaos: private RabbitMQ {rabbit.node} on :{rabbit.port} up in "
              f"{rabbit.start():.1f} s", flush=True)
        return rabbit, None
    cluster_mode.use_quorum_queues()
    cluster = RabbitCluster(base)
    took = cluster.start()
    print(f"chaos: private RabbitMQ cluster {cluster.running_nodes()} on "
          f"{[n.port for n in cluster.nodes]} up in {took:.1f} s", flush=True)
    return cluster.first, cluster


def _on_signal(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # run the `finally` teardown


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="chaos-"))
    out = args.out or base / "out"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    rabbit = pg = suite = cluster = None
    summary: dict[str, Any] = {"ok": False}
    try:
        pg = PrivatePostgres(base)
        rabbit, cluster = start_broker(base, args.cluster)
        pg.init()
        print(f"chaos: private PostgreSQL on :{pg.port} up in {pg.start():.1f} s", flush=True)
        suite = start_suite(rabbit, pg, out / "logs", cluster)
        print(f"chaos: suite ready in {suite.wait_ready():.1f} s at {suite.url}", flush=True)
        summary = asyncio.run(drive(args, suite, rabbit, pg, out, cluster))
        summary["total_s"] = round(time.monotonic() - started, 1)
        report.write(out / "report.json", summary)
        print(report.render(summary), flush=True)
    finally:
        for part in (suite, cluster or rabbit, pg):
            if part is not None:
                part.stop()
        servers = [p.name for p in base.iterdir() if p.name.startswith(("rabbit", "pg"))]
        for server in servers:  # the private servers' own logs, beside the suite's
            if (base / server / "server.log").exists():
                shutil.copy(base / server / "server.log", out / "logs" / f"{server}.log")
        if not args.out and not summary["ok"]:  # keep the evidence of a failed run
            kept = Path(tempfile.gettempdir()) / f"{base.name}-artifacts"
            shutil.copytree(out, kept, dirs_exist_ok=True)
            print(f"chaos: history, logs and report kept in {kept}", file=sys.stderr)
        shutil.rmtree(base, ignore_errors=True)
    print(f"chaos: done in {time.monotonic() - started:.0f} s" +
          (f"; history, logs and report in {args.out}" if args.out else ""), flush=True)
    # One line per check class (lost, duplicated, unexpected, invariant) in the plain form CI
    # reads; a run that never got to check fails all of them.
    counts = summary.get("violations")
    failed = sum(1 for n in counts.values() if n) if counts else 4
    print(f"chaos: {4 - failed} passed, {failed} failed", flush=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
