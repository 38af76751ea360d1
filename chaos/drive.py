"""One chaos run against a started suite: the workload under the nemesis, then heal, wait for
quiescence and check the history against every database (chaos/run.py starts and stops the
servers and the suite around it)."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx

from chaos import amqp, cluster_faults, cluster_mode, heal, report, rolling
from chaos.checker import check
from chaos.cluster import RabbitCluster
from chaos.fault_checks import fault_checks
from chaos.fixtures import make_world
from chaos.history import History
from chaos.infra import PrivatePostgres, PrivateRabbit
from chaos.nemesis import SERVICES, Nemesis, full_plan, short_plan
from chaos.scenarios import refund_before_sale
from chaos.state import Databases, snapshot
from chaos.suite import ADMIN_EMAIL, Suite
from chaos.workload import Rates, Workload

TAIL = 15.0  # seconds of traffic after the last recovery


async def drive(args: argparse.Namespace, suite: Suite, rabbit: PrivateRabbit,
                pg: PrivatePostgres, out: Path, cluster: RabbitCluster | None = None
                ) -> dict[str, Any]:
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
        if cluster is not None:
            nemesis.scenarios["node"] = cluster_faults.node_fault(cluster)
            nemesis.scenarios["rolling"] = rolling.restart_fault(
                suite, cluster, [n for n in suite.supervisor.children
                                 if n.split("-")[0] in SERVICES], cluster_mode.REPLICAS)
            plan = cluster_faults.plan(plan)
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
    if cluster is not None:
        await asyncio.to_thread(cluster_faults.heal, cluster)
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
             "quiescence_s": quiet.seconds, "quiescent": quiet.converged,
             **({"cluster_nodes": len(cluster.nodes)} if cluster else {})}
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
