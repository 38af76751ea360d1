"""Outbox relay: publishing throughput, and event latency from commit to handler, measured.

1. Throughput: N committed outbox rows, then a relay-only `nameko run`; events/s between the
   relay's first and last claim (the database's clock on `published_at`), start-up excluded.
2. Latency: a subscriber service (relay + one reliable handler doing an inbox claim and an
   insert). This process commits one event per transaction at a steady rate, notes the time
   after each commit, and compares it with the handler's `clock_timestamp()` (same host clock).

    .venv/bin/python bench/outbox.py [--quick] [--events 20000] [--rates 100,400]
        [--duration 20] [--no-doc]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pika
import report
import suite
from kombu import Connection
from outbox_service import SUBSCRIPTION, applied, metadata, outbox
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from shared.db import make_engine
from shared.messaging.outbox import record_event


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small and short; no doc update")
    parser.add_argument("--events", type=int, help="rows for the throughput run")
    parser.add_argument("--rates", help="events/s for the latency runs, comma-separated")
    parser.add_argument("--duration", type=float, help="seconds per latency run")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    args.events = args.events or (2000 if args.quick else 20000)
    args.rates = [int(r) for r in (args.rates or ("50" if args.quick else "100,400")).split(",")]
    args.duration = args.duration or (5.0 if args.quick else 20.0)
    return args


@contextlib.contextmanager
def bare_database() -> Iterator[str]:
    name = suite.unique("benchout")
    server = create_engine(make_url(suite.PG_SERVER).set(database="postgres"),
                           isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(suite.PG_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def fields() -> dict[str, Any]:
    return {"payment_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()),
            "decline_code": "card_declined"}


def scalar(engine: Engine, query: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def wait_until(check: Any, procs: suite.Processes, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        procs.check_alive()
        if time.monotonic() > deadline:
            raise suite.BenchError(f"timed out waiting for {what}")
        time.sleep(0.1)


def throughput(engine: Engine, procs: suite.Processes, env: dict[str, str],
               n: int) -> dict[str, Any]:
    with Session(engine) as session, session.begin():
        for _ in range(n):
            record_event(session, outbox, "payments", "payment_failed", fields())
    procs.start("relay", service("BenchRelay"), env, cwd=Path(__file__).parent)
    unpublished = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    wait_until(lambda: scalar(engine, unpublished) == 0, procs, 600, "the relay")
    first, last = (scalar(engine, select(f(outbox.c.published_at))) for f in (func.min, func.max))
    claims = scalar(engine, select(func.count(func.distinct(outbox.c.published_at))))
    span = (last - first).total_seconds()
    # Rows published between the first and the last claim started: all but the last batch.
    rate = (n - n / claims) / span if span > 0 else float("nan")
    procs.stop_all()
    return {"events": n, "claims": claims, "seconds": span, "events_per_s": rate}


class Tap(threading.Thread):
    """A plain AMQP subscriber, like the gateway's cache invalidation: when each event arrives."""

    def __init__(self, amqp_uri: str) -> None:
        super().__init__(daemon=True)
        self.uri, self.arrived, self.ready = amqp_uri, dict[str, float](), threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        conn = pika.BlockingConnection(pika.URLParameters(self.uri))
        channel = conn.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, "payments.events", "payment_failed")
        channel.basic_consume(queue, lambda _c, _m, props, _b: self.arrived.__setitem__(
            props.message_id, time.time()), auto_ack=True)
        self.ready.set()
        while not self.done.is_set():
            conn.process_data_events(time_limit=0.2)
        conn.close()


def latency(engine: Engine, rate: int, seconds: float, tap: Tap) -> dict[str, Any]:
    committed: dict[str, float] = {}
    total = int(rate * seconds)
    started = time.monotonic()
    for i in range(total):  # one event per transaction, like a use case
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        with Session(engine) as session, session.begin():
            event_id = record_event(session, outbox, "payments", "payment_failed", fields())
        committed[str(event_id)] = time.time()
    achieved = total / (time.monotonic() - started)
    query = select(func.count()).select_from(applied).where(
        applied.c.event_id.in_(list(committed)))
    deadline = time.monotonic() + 120
    while scalar(engine, query) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    with engine.connect() as conn:
        rows = conn.execute(select(applied.c.event_id, applied.c.at, outbox.c.published_at)
                            .join(outbox, outbox.c.event_id == func.cast(applied.c.event_id,
                                                                         outbox.c.event_id.type))
                            .where(applied.c.event_id.in_(list(committed)))).all()
    if len(rows) < 2:
        raise suite.BenchError(f"only {len(rows)} of {total} events reached the handler")
    ms = sorted(1000 * (at.timestamp() - committed[event_id]) for event_id, at, _ in rows)
    # Where the time goes: commit -> the relay's claim began (its transaction's now()).
    pickup = sorted(1000 * (claimed.timestamp() - committed[event_id])
                    for event_id, _, claimed in rows)
    tapped = [1000 * (tap.arrived[e] - committed[e]) for e in committed if e in tap.arrived]
    cuts, pick = statistics.quantiles(ms, n=100), statistics.quantiles(pickup, n=100)
    plain = statistics.quantiles(tapped, n=100) if len(tapped) > 1 else [float("nan")] * 99
    return {"rate": rate, "achieved_rate": achieved, "events": total, "applied": len(ms),
            "p50_ms": cuts[49], "p90_ms": cuts[89], "p99_ms": cuts[98], "max_ms": ms[-1],
            "pickup_p50_ms": pick[49], "pickup_p99_ms": pick[98], "plain_received": len(tapped),
            "plain_p50_ms": plain[49], "plain_p99_ms": plain[98]}


def service(cls: str) -> list[str]:
    config = Path(__file__).with_name("outbox_service.yaml")
    return [str(suite.BIN / "nameko"), "run", "--config", str(config), f"outbox_service:{cls}"]


def run(args: argparse.Namespace, run_name: str) -> dict[str, Any]:
    with suite.vhost("benchout") as amqp_uri, bare_database() as db_url, \
            suite.Processes(run_name) as procs:
        engine = make_engine(db_url, pool_size=4)
        try:
            metadata.create_all(engine)
            env = {**suite.suite_env(amqp_uri, {}), "BENCH_OUTBOX_DATABASE_URL": db_url,
                   "BENCH_OUTBOX_SERVICE": "1", "PYTHONPATH": str(Path(__file__).parent)}
            env["AMQP_URI"] = amqp_uri
            result: dict[str, Any] = {"throughput": throughput(engine, procs, env, args.events)}
            # The throughput run's events sit in the handler's queue: not this run's business.
            with Connection(amqp_uri) as conn:  # type: ignore[no-untyped-call]
                conn.default_channel.queue_purge(SUBSCRIPTION.queue)
            procs.start("subscriber", service("BenchSubscriber"), env, cwd=Path(__file__).parent)
            tap = Tap(amqp_uri)
            tap.start()
            tap.ready.wait(30)
            warm = latency(engine, 20, 1.0, tap)  # also waits for the consumer to be up
            result["warmup_applied"] = warm["applied"]
            pid, result["latency"] = procs.children["subscriber"].pid, []
            for rate in args.rates:
                cpu = suite.cpu_seconds(pid)
                result["latency"].append(latency(engine, rate, args.duration, tap))
                # CPU of the service process (relay + consumer + handler) per event: far less
                # sensitive to other load on the machine than latency.
                result["latency"][-1]["service_cpu_ms_per_event"] = (
                    1000 * (suite.cpu_seconds(pid) - cpu) / result["latency"][-1]["events"])
            procs.check_alive()
            tap.done.set()
            return result
        finally:
            engine.dispose()


def markdown(meta: dict[str, Any], result: dict[str, Any]) -> str:
    t, m = result["throughput"], meta["machine"]
    rows = [f"| {r['rate']} ({r['achieved_rate']:.0f} achieved) | {r['events']} | "
            f"{r['applied']} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['max_ms']:.1f} | {r['pickup_p50_ms']:.1f} / {r['pickup_p99_ms']:.1f} | "
            f"{r['plain_p50_ms']:.1f} / {r['plain_p99_ms']:.1f} | "
            f"{r['service_cpu_ms_per_event']:.2f} |"
            for r in result["latency"]]
    return "\n".join([
        f"- Command: `{meta['command']}`",
        f"- Run: {meta['started_utc']}; code at {meta['source']}; machine: {m['nproc']} x "
        f"{m['cpu']}, shared with other engineers' test runs (1-min load average "
        f"{meta['load_before']:.1f} before, {meta['load_after']:.1f} after)",
        "", f"**Relay throughput: {t['events_per_s']:.0f} events/s** ({t['events']} committed "
        f"rows, {t['claims']} claims in {t['seconds']:.2f} s; persistent, publisher confirms).",
        "", "Commit -> handler latency (one event per transaction; the handler claims the inbox "
        "and inserts a row). pickup = commit -> relay claim; plain = commit -> arrival at a "
        "plain AMQP subscriber (the gateway cache's path), both p50 / p99 ms; CPU = the service "
        "process's CPU ms per event (relay + consumer + handler):",
        "", "| events/s | events | applied | p50 ms | p90 ms | p99 ms | max ms | pickup | plain "
        "| CPU |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", *rows])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suite.on_signal_raise()
    started, source, load_before = time.time(), suite.source_state(), os.getloadavg()[0]
    run_name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-outbox"
    result = suite.guarded(lambda: run(args, run_name))
    if isinstance(result, int):
        return result
    load_after = os.getloadavg()[0]
    meta = {"command": report.command_line(sys.argv if argv is None else
                                           ["bench/outbox.py", *argv]),
            "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "source": source, "machine": suite.machine(), "args": vars(args),
            "load_before": load_before, "load_after": load_after}
    suite.RESULTS.mkdir(parents=True, exist_ok=True)
    (suite.RESULTS / f"{run_name}.json").write_text(json.dumps(
        {"meta": meta, "result": result}, indent=2, default=str))
    text = markdown(meta, result)
    print(text)
    if not args.quick and not args.no_doc:
        report.update_doc("outbox", text)
        print("bench: figures written to docs/benchmarks.md")
    lost = sum(r["events"] - r["applied"] for r in result["latency"])
    return 1 if lost else 0


if __name__ == "__main__":
    threading.current_thread().name = "bench-outbox"
    sys.exit(main())
