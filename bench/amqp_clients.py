"""Which AMQP library should the gateway use? nameko RPC round trips, measured (ADR 0002).

Starts the real catalog service in a throwaway vhost and database, then runs `catalog.ping`
round trips at concurrency 32 through each client of bench/nameko_rpc_clients.py, in
interleaved rounds (the order rotates every round): aio-pika with confirms (what the gateway
used before ADR 0007), pika's asyncio adapter with confirms, both without confirms, and the
gateway's own RpcClient (pika without confirms since ADR 0007). Reports median calls/s,
p50/p99 and CPU ms per call of this process (the client), the catalog service and RabbitMQ.

    .venv/bin/python bench/amqp_clients.py [--quick] [--clients aiopika,pika] [--no-doc]
        [--gateway-ref GIT_REF]   # also the gateway's rpc.py as it was at that commit
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report
import suite
from nameko_rpc_clients import all_clients

SERVICE = "catalog"
T = TypeVar("T")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="2 short rounds; no doc update")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=float, help="seconds per client per round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--clients", default="aiopika,pika,aiopika-noconfirm,pika-noconfirm,"
                        "gateway", help="comma-separated keys of nameko_rpc_clients.all_clients")
    parser.add_argument("--gateway-ref", metavar="GIT_REF",
                        help="also run gateway/gateway/rpc.py as committed at this ref "
                             "(client 'gateway-ref'), to measure a change of the client")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="event loop (the gateway runs on uvloop)")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 6)
    args.duration = args.duration or (4.0 if args.quick else 10.0)
    return args


async def load(client: Any, concurrency: int, seconds: float,
               pids: dict[str, int]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = loop.time() + seconds

    async def worker() -> None:
        while loop.time() < stop_at:
            started = time.perf_counter()
            try:
                await client.call(SERVICE, "ping")
            except Exception as exc:
                errors.append(type(exc).__name__)
            else:
                latencies.append(time.perf_counter() - started)

    cpu_before = {name: suite.cpu_seconds(pid) for name, pid in pids.items()}
    busy_before = suite.machine_busy_seconds()
    own_before, wall_before = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - wall_before
    cpu = {name: suite.cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    cpu["client"] = time.process_time() - own_before
    other = (suite.machine_busy_seconds() - busy_before - sum(cpu.values())) / wall
    latencies.sort()
    n = len(latencies)
    return {"calls": n, "seconds": wall, "calls_per_s": n / wall, "errors": len(errors),
            "error_kinds": sorted(set(errors)), "other_load_cores": other,
            "p50_ms": 1000 * latencies[n // 2] if n else float("nan"),
            "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else float("nan"),
            "cpu_s": cpu}


async def unknown_service(client: Any, timeout: float = 2.0) -> str:
    """How the client answers a call nobody consumes: the gateway must say 503 at once."""
    started = time.perf_counter()
    try:
        await asyncio.wait_for(client.call("no_such_service", "ping"), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:
        return f"{type(exc).__name__} in {1000 * (time.perf_counter() - started):.0f} ms"
    return "answered?"


async def compare(args: argparse.Namespace, amqp_uri: str,
                  pids: dict[str, int]) -> list[dict[str, Any]]:
    available = all_clients(amqp_uri, args.gateway_ref)
    keys = [k.strip() for k in args.clients.split(",") if k.strip()]
    if args.gateway_ref and "gateway-ref" not in keys:
        keys.append("gateway-ref")
    unknown = set(keys) - available.keys()
    if unknown:
        raise suite.BenchError(f"unknown clients {sorted(unknown)}; known: {sorted(available)}")
    clients = {key: available[key] for key in keys}
    if "gateway" in clients:  # nameko_rpc_clients still names the library it used to be on
        clients["gateway"].name = "gateway RpcClient (pika, no confirms)"
    for client in clients.values():
        await client.connect()
    try:
        unroutable = {key: await unknown_service(client) for key, client in clients.items()}
        for key, client in clients.items():  # warm-up; also proves each one works
            await load(client, args.concurrency, 2.0, {})
            print(f"bench: warm-up {key} done", flush=True)
        samples = []
        for index in range(args.rounds):
            order = keys[index % len(keys):] + keys[:index % len(keys)]
            for key in order:
                sample = {"round": index + 1, "client": key, "label": clients[key].name,
                          "unknown_service": unroutable[key],
                          **await load(clients[key], args.concurrency, args.duration, pids)}
                samples.append(sample)
                print(f"bench: round {index + 1} {key:<18} {sample['calls_per_s']:7.1f} calls/s "
                      f"p50 {sample['p50_ms']:.2f} ms p99 {sample['p99_ms']:.2f} ms "
                      f"client CPU {1000 * sample['cpu_s']['client'] / max(1, sample['calls']):.3f}"
                      f" ms/call errors {sample['errors']}", flush=True)
        return samples
    finally:
        for client in clients.values():
            await client.close()


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in dict.fromkeys(s["client"] for s in samples):
        mine = [s for s in samples if s["client"] == key]
        calls = sum(s["calls"] for s in mine)
        out[key] = {"label": mine[0]["label"], "unknown_service": mine[0]["unknown_service"],
                    "calls_per_s": statistics.median(s["calls_per_s"] for s in mine),
                    "p50_ms": statistics.median(s["p50_ms"] for s in mine),
                    "p99_ms": statistics.median(s["p99_ms"] for s in mine),
                    "errors": sum(s["errors"] for s in mine),
                    "cpu_ms_per_call": {p: 1000 * sum(s["cpu_s"][p] for s in mine) / calls
                                        for p in mine[0]["cpu_s"]} if calls else {}}
    return out


def markdown(meta: dict[str, Any], summary: dict[str, Any], other_load: float) -> str:
    lines = [f"nameko RPC `{SERVICE}.ping` round trips from one asyncio process ({meta['loop']}), "
             f"concurrency {meta['concurrency']}, against the real catalog service.", "",
             f"- Command: `{meta['command']}`",
             f"- Run: {meta['started_utc']}; {meta['rounds']} rounds x {meta['duration_s']:g} s "
             f"per client, order rotated every round; code at {meta['source']}",
             f"- Machine: {meta['machine']['nproc']} x {meta['machine']['cpu']}; versions: "
             + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
             f"- Other work on the machine: {other_load:.2f} cores busy on average outside this "
             "process, the service and RabbitMQ"
             + (" (busy machine: compare CPU per call, not calls/s)"
                if other_load > report.BUSY_CORES else ""), "",
             "| client | calls/s (median) | p50 ms | p99 ms | errors | CPU ms/call: client "
             f"| {SERVICE} | rabbitmq | unknown service |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in summary.values():
        c = s["cpu_ms_per_call"]
        lines.append(f"| {s['label']} | {s['calls_per_s']:.0f} | {s['p50_ms']:.2f} | "
                     f"{s['p99_ms']:.2f} | {s['errors']} | {c.get('client', 0):.3f} | "
                     f"{c.get(SERVICE, 0):.3f} | {c.get('rabbitmq', 0):.3f} | "
                     f"{s['unknown_service']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suite.on_signal_raise()
    started, source = time.time(), suite.source_state()
    run_name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-amqp-clients"
    try:
        with suite.vhost() as amqp_uri, suite.database(SERVICE) as db_url, \
                suite.Processes(run_name) as procs:
            env = suite.suite_env(amqp_uri, {SERVICE: db_url})
            procs.start(SERVICE, suite.nameko_service(SERVICE), env)
            _wait_consumer(amqp_uri, procs)
            pids = {SERVICE: procs.children[SERVICE].pid}
            broker = suite.broker_pid()
            if broker is not None:
                pids["rabbitmq"] = broker
            samples = run_async(compare(args, amqp_uri, pids), args.loop)
            procs.check_alive()
    except suite.BenchError as exc:
        print(f"bench: cannot run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    summary = summarise(samples)
    meta = {"command": report.command_line(sys.argv if argv is None else
                                           ["bench/amqp_clients.py", *argv]),
            "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "source": source,
            "rounds": args.rounds, "duration_s": args.duration, "loop": args.loop,
            "concurrency": args.concurrency, "machine": suite.machine(),
            "versions": suite.versions()}
    out = suite.RESULTS / f"{run_name}.json"
    out.write_text(json.dumps({"meta": meta, "summary": summary, "samples": samples}, indent=2))
    text = markdown(meta, summary, statistics.mean(s["other_load_cores"] for s in samples))
    print(text)
    print(f"bench: raw samples in {out}")
    if not args.quick and not args.no_doc:
        report.update_doc("amqp-clients", text)
        print("bench: figures written to docs/benchmarks.md")
    errors = sum(s["errors"] for s in summary.values())
    return 1 if errors else 0


def run_async(coro: Coroutine[Any, Any, T], loop: str = "uvloop") -> T:
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def _wait_consumer(amqp_uri: str, procs: suite.Processes, timeout: float = 60.0) -> None:
    """Waits until the service's RPC queue has a consumer (its `ping` answers)."""
    from nameko_rpc_clients import AioPika

    async def ping_once() -> bool:
        client = AioPika(amqp_uri, confirms=True)
        client.timeout = 2.0
        await client.connect()
        try:
            await client.call(SERVICE, "ping")
            return True
        except Exception:
            return False
        finally:
            await client.close()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        if asyncio.run(ping_once()):
            return
        time.sleep(0.5)
    raise suite.BenchError(f"{SERVICE} did not answer ping within {timeout:g} s")


if __name__ == "__main__":
    sys.exit(main())
