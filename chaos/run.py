"""`make chaos`: start private servers and the suite, run the workload under the nemesis, heal,
wait for quiescence, check the history against every database; exit 1 on any violation.

    python chaos/run.py --short                    # CI: <= 5 min, four faults
    python chaos/run.py --seed 7 --duration 600    # full run, every kind of fault
    python chaos/run.py ... --out DIR              # keep history.jsonl, logs, report.json
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
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # `chaos` as a package (not this directory first)

import httpx  # noqa: E402

from chaos import amqp, heal, report  # noqa: E402
from chaos.checker import check  # noqa: E402
from chaos.fault_checks import fault_checks  # noqa: E402
from chaos.fixtures import make_world  # noqa: E402
from chaos.history import History  # noqa: E402
from chaos.infra import PrivatePostgres, PrivateRabbit  # noqa: E402
from chaos.nemesis import (  # noqa: E402
    SERVICES,
    Nemesis,
    full_plan,
    short_plan,
)
from chaos.scenarios import refund_before_sale  # noqa: E402
from chaos.state import Databases, snapshot  # noqa: E402
from chaos.suite import ADMIN_EMAIL, Suite, start_suite  # noqa: E402
from chaos.workload import Rates, Workload  # noqa: E402

TAIL = 15.0  # seconds of traffic after the last recovery


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI run (<= 5 min)")
    parser.add_argument("--seed", type=int, help="nemesis and workload RNG (default: random; "
                                                 "--short: 1)")
    parser.add_argument("--duration", type=float, default=300.0, help="workload seconds")
    parser.add_argument("--rate", type=float, help="checkouts per second (reads: the same, "
                                                   "logins: a sixth)")
    parser.add_argument("--out", type=Path, help="keep the history, logs and report here")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = 1 if args.short else random.SystemRandom().randrange(1, 10**6)
    if args.short:
        args.duration = 60.0
    args.rate = args.rate or (2.5 if args.short else 4.0)
    return args


async def drive(args: argparse.Namespace, suite: Suite, rabbit: PrivateRabbit,
                pg: PrivatePostgres, out: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    db = Databases({s: pg.server_url(s) for s in SERVICES})
    await asyncio.to_thread(amqp.declare_tap, rabbit.uri)
    async with httpx.AsyncClient(base_url=suite.url,
                                 limits=httpx.Limits(max_connections=100)) as client:
        world = await make_world(client, (ADMIN_EMAIL, suite.env["ADMIN_PASSWORD"]), rng,
                                 products=5, customers=6, scarce_stock=40)
        t0 = time.time()
        history = History(out / "history.jsonl", t0)
        workload = Workload(client, world, history, rng)
        nemesis = Nemesis(suite, rabbit, pg, db, t0)
        nemesis.scenarios["reorder"] = lambda: refund_before_sale(workload, suite, db)
        plan = short_plan(rng) if args.short else full_plan(rng, int(args.duration // 10))
        gaps = (4.0, 6.0) if args.short else (8.0, 16.0)
        rates = Rates(args.rate, args.rate / 6, args.rate)
        print(f"chaos: workload {args.duration:.0f} s at {args.rate}/s checkouts, seed "
              f"{args.seed}, plan {[f.name for f in plan]}", flush=True)
        stop = asyncio.Event()
        await asyncio.gather(workload.run(rates, stop), timeline(
            nemesis.run(plan, 8.0, gaps, args.duration, rng), args.duration, stop))
        history.close()
    print("chaos: workload over; healing and waiting for quiescence", flush=True)
    await asyncio.to_thread(heal.heal, suite, rabbit, pg)
    quiet = await asyncio.to_thread(heal.wait_quiescent, suite, rabbit, db,
                                    150.0 if args.short else 300.0)
    ops = History.load(out / "history.jsonl")
    snap = await asyncio.to_thread(snapshot, db)
    parked = await asyncio.to_thread(amqp.parked, rabbit.uri)
    verdict = check(ops, snap, world.products, parked, nemesis.poison_ids)
    fault_checks(verdict, nemesis, quiet, out / "logs" / "catalog.log", suite.supervisor.exits)
    db.dispose()
    extra = {"seed": args.seed, "mode": "short" if args.short else "full",
             "duration_s": args.duration, "checkout_rate": args.rate,
             "quiescence_s": quiet.seconds, "quiescent": quiet.converged}
    return report.summarize(ops, nemesis.records, verdict, extra, suite.supervisor.exits, t0,
                            out / "logs" / "catalog.log")


async def timeline(faults: Coroutine[Any, Any, None], duration: float,
                   stop: asyncio.Event) -> None:
    """The workload runs `duration` seconds, and on until the last fault has healed and the
    suite recovered, then TAIL seconds more: every run ends with fault-free traffic."""
    nemesis = asyncio.ensure_future(faults)
    await asyncio.sleep(duration)
    await nemesis
    await asyncio.sleep(TAIL)
    stop.set()


def _on_signal(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # run the `finally` teardown


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="chaos-"))
    out = args.out or base / "out"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    rabbit = pg = suite = None
    summary: dict[str, Any] = {"ok": False}
    try:
        rabbit, pg = PrivateRabbit(base), PrivatePostgres(base)
        print(f"chaos: private RabbitMQ {rabbit.node} on :{rabbit.port} up in "
              f"{rabbit.start():.1f} s", flush=True)
        pg.init()
        print(f"chaos: private PostgreSQL on :{pg.port} up in {pg.start():.1f} s", flush=True)
        suite = start_suite(rabbit, pg, out / "logs")
        print(f"chaos: suite ready in {suite.wait_ready():.1f} s at {suite.url}", flush=True)
        summary = asyncio.run(drive(args, suite, rabbit, pg, out))
        summary["total_s"] = round(time.monotonic() - started, 1)
        report.write(out / "report.json", summary)
        print(report.render(summary), flush=True)
    finally:
        for part in (suite, rabbit, pg):
            if part is not None:
                part.stop()
        for server in ("rabbit", "pg"):  # the private servers' own logs, beside the suite's
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
